/** Schemes of the categories this project defines itself (templates, placement, locality). */
export const PROJECT_SCHEME_BASE = 'http://schemas.discovery-cloud.org/occi/';
export const OS_TPL_SCHEME = `${PROJECT_SCHEME_BASE}os_tpl#`;
export const RESOURCE_TPL_SCHEME = `${PROJECT_SCHEME_BASE}resource_tpl#`;
