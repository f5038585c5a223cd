// Original file: ../../protos/session/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface IntrospectResponse {
  'active'?: (boolean);
  'sub'?: (string);
  'sid'?: (string);
  /**
   * Space-separated scopes.
   */
  'scope'?: (string);
  'client_id'?: (string);
  'token_type'?: (string);
  /**
   * NumericDate seconds, as in RFC 7519.
   */
  'exp'?: (number | string | Long);
  'iat'?: (number | string | Long);
  'nbf'?: (number | string | Long);
  'iss'?: (string);
  'aud'?: (string);
  'jti'?: (string);
}

export interface IntrospectResponse__Output {
  'active': (boolean);
  'sub': (string);
  'sid': (string);
  /**
   * Space-separated scopes.
   */
  'scope': (string);
  'client_id': (string);
  'token_type': (string);
  /**
   * NumericDate seconds, as in RFC 7519.
   */
  'exp': (string);
  'iat': (string);
  'nbf': (string);
  'iss': (string);
  'aud': (string);
  'jti': (string);
}
