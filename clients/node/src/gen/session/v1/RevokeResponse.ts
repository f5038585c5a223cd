// Original file: ../../protos/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface RevokeResponse {
  /**
   * How many live sessions this call ended; 0 when there was nothing to end.
   */
  'revoked_count'?: (number | string | Long);
}

export interface RevokeResponse__Output {
  /**
   * How many live sessions this call ended; 0 when there was nothing to end.
   */
  'revoked_count': (string);
}
