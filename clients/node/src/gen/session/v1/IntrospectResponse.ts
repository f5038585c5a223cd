// Original file: ../../protos/session/v1/session.proto

import type { Confirmation as _session_v1_Confirmation, Confirmation__Output as _session_v1_Confirmation__Output } from '../../session/v1/Confirmation';
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
  /**
   * The key the token is bound to (RFC 9449 section 6.2, RFC 8705); unset for bearer tokens.
   */
  'cnf'?: (_session_v1_Confirmation | null);
  /**
   * The act claim (RFC 8693 section 4.1) as compact JSON; empty when nobody acts.
   */
  'act'?: (string);
  /**
   * How and when the user authenticated (RFC 9470).
   */
  'acr'?: (string);
  'amr'?: (string)[];
  'auth_time'?: (number | string | Long);
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
  /**
   * The key the token is bound to (RFC 9449 section 6.2, RFC 8705); unset for bearer tokens.
   */
  'cnf': (_session_v1_Confirmation__Output | null);
  /**
   * The act claim (RFC 8693 section 4.1) as compact JSON; empty when nobody acts.
   */
  'act': (string);
  /**
   * How and when the user authenticated (RFC 9470).
   */
  'acr': (string);
  'amr': (string)[];
  'auth_time': (string);
}
