/** The headers the edge adds to the requests and answers that cross the mesh. */

/** On an answer: the members whose part of a mesh-wide collection is missing. */
export const PARTIAL_HEADER = 'X-Discovery-Partial';
/** On an answer: the node that served the request. */
export const SERVED_BY_HEADER = 'X-Discovery-Served-By';
/** On a request sent to a member: the compute was admitted by a partition and is created there at this id (read by the serving node's forwarder only). */
export const ADMITTED_HEADER = 'x-discovery-admitted';
