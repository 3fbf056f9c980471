/** The headers the edge adds to the requests and answers that cross the mesh. */

/** On a request re-entering from a member: this process's token (the request was routed already). */
export const LOCAL_TOKEN_HEADER = 'x-discovery-local';
/** On an answer: the members whose part of a mesh-wide collection is missing. */
export const PARTIAL_HEADER = 'X-Discovery-Partial';
/** On an answer: the node that served the request. */
export const SERVED_BY_HEADER = 'X-Discovery-Served-By';
/** On a request re-entering from a member: the member's name (the audit log's forwardedFrom). */
export const FORWARDED_FROM_HEADER = 'x-discovery-forwarded-from';
/** On a request from a member: the compute was admitted by a partition and is created here at this id. */
export const ADMITTED_HEADER = 'x-discovery-admitted';
