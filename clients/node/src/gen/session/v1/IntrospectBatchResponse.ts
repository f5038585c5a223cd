// Original file: ../../protos/session/v1/session.proto

import type { IntrospectResponse as _session_v1_IntrospectResponse, IntrospectResponse__Output as _session_v1_IntrospectResponse__Output } from '../../session/v1/IntrospectResponse';

export interface IntrospectBatchResponse {
  /**
   * One per request, in the requests' order.
   */
  'responses'?: (_session_v1_IntrospectResponse)[];
}

export interface IntrospectBatchResponse__Output {
  /**
   * One per request, in the requests' order.
   */
  'responses': (_session_v1_IntrospectResponse__Output)[];
}
