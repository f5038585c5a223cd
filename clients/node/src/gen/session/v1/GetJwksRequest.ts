// Original file: ../../protos/session/v1/session.proto


export interface GetJwksRequest {
}

export interface GetJwksRequest__Output {
}
