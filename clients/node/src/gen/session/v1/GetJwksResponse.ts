// Original file: ../../protos/session/v1/session.proto


export interface GetJwksResponse {
  'jwks_json'?: (string);
}

export interface GetJwksResponse__Output {
  'jwks_json': (string);
}
