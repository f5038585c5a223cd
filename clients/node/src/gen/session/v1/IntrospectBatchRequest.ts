// Original file: ../../protos/session/v1/session.proto

import type { IntrospectRequest as _session_v1_IntrospectRequest, IntrospectRequest__Output as _session_v1_IntrospectRequest__Output } from '../../session/v1/IntrospectRequest';

export interface IntrospectBatchRequest {
  /**
   * At most 500; each token must be non-empty, as for Introspect.
   */
  'requests'?: (_session_v1_IntrospectRequest)[];
}

export interface IntrospectBatchRequest__Output {
  /**
   * At most 500; each token must be non-empty, as for Introspect.
   */
  'requests': (_session_v1_IntrospectRequest__Output)[];
}
