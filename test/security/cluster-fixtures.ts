export { COMPUTE, LARGE, NETWORK, NETWORKINTERFACE, SMALL, STORAGE } from '../helpers/node.js';
export const MEDIUM_OR = 'http://schemas.discovery-cloud.org/occi/resource_tpl#medium';
