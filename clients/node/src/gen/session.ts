import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { ClientInfo as _session_v1_ClientInfo, ClientInfo__Output as _session_v1_ClientInfo__Output } from './session/v1/ClientInfo';
import type { Confirmation as _session_v1_Confirmation, Confirmation__Output as _session_v1_Confirmation__Output } from './session/v1/Confirmation';
import type { CreateRequest as _session_v1_CreateRequest, CreateRequest__Output as _session_v1_CreateRequest__Output } from './session/v1/CreateRequest';
import type { CreateResponse as _session_v1_CreateResponse, CreateResponse__Output as _session_v1_CreateResponse__Output } from './session/v1/CreateResponse';
import type { DpopProof as _session_v1_DpopProof, DpopProof__Output as _session_v1_DpopProof__Output } from './session/v1/DpopProof';
import type { ExchangeRequest as _session_v1_ExchangeRequest, ExchangeRequest__Output as _session_v1_ExchangeRequest__Output } from './session/v1/ExchangeRequest';
import type { ExchangeResponse as _session_v1_ExchangeResponse, ExchangeResponse__Output as _session_v1_ExchangeResponse__Output } from './session/v1/ExchangeResponse';
import type { GetJwksRequest as _session_v1_GetJwksRequest, GetJwksRequest__Output as _session_v1_GetJwksRequest__Output } from './session/v1/GetJwksRequest';
import type { GetJwksResponse as _session_v1_GetJwksResponse, GetJwksResponse__Output as _session_v1_GetJwksResponse__Output } from './session/v1/GetJwksResponse';
import type { GetRequest as _session_v1_GetRequest, GetRequest__Output as _session_v1_GetRequest__Output } from './session/v1/GetRequest';
import type { GetResponse as _session_v1_GetResponse, GetResponse__Output as _session_v1_GetResponse__Output } from './session/v1/GetResponse';
import type { IdpSession as _session_v1_IdpSession, IdpSession__Output as _session_v1_IdpSession__Output } from './session/v1/IdpSession';
import type { IntrospectBatchRequest as _session_v1_IntrospectBatchRequest, IntrospectBatchRequest__Output as _session_v1_IntrospectBatchRequest__Output } from './session/v1/IntrospectBatchRequest';
import type { IntrospectBatchResponse as _session_v1_IntrospectBatchResponse, IntrospectBatchResponse__Output as _session_v1_IntrospectBatchResponse__Output } from './session/v1/IntrospectBatchResponse';
import type { IntrospectRequest as _session_v1_IntrospectRequest, IntrospectRequest__Output as _session_v1_IntrospectRequest__Output } from './session/v1/IntrospectRequest';
import type { IntrospectResponse as _session_v1_IntrospectResponse, IntrospectResponse__Output as _session_v1_IntrospectResponse__Output } from './session/v1/IntrospectResponse';
import type { ListRequest as _session_v1_ListRequest, ListRequest__Output as _session_v1_ListRequest__Output } from './session/v1/ListRequest';
import type { ListResponse as _session_v1_ListResponse, ListResponse__Output as _session_v1_ListResponse__Output } from './session/v1/ListResponse';
import type { ReauthenticateRequest as _session_v1_ReauthenticateRequest, ReauthenticateRequest__Output as _session_v1_ReauthenticateRequest__Output } from './session/v1/ReauthenticateRequest';
import type { ReauthenticateResponse as _session_v1_ReauthenticateResponse, ReauthenticateResponse__Output as _session_v1_ReauthenticateResponse__Output } from './session/v1/ReauthenticateResponse';
import type { RefreshRequest as _session_v1_RefreshRequest, RefreshRequest__Output as _session_v1_RefreshRequest__Output } from './session/v1/RefreshRequest';
import type { RefreshResponse as _session_v1_RefreshResponse, RefreshResponse__Output as _session_v1_RefreshResponse__Output } from './session/v1/RefreshResponse';
import type { Revocation as _session_v1_Revocation, Revocation__Output as _session_v1_Revocation__Output } from './session/v1/Revocation';
import type { RevokeRequest as _session_v1_RevokeRequest, RevokeRequest__Output as _session_v1_RevokeRequest__Output } from './session/v1/RevokeRequest';
import type { RevokeResponse as _session_v1_RevokeResponse, RevokeResponse__Output as _session_v1_RevokeResponse__Output } from './session/v1/RevokeResponse';
import type { Session as _session_v1_Session, Session__Output as _session_v1_Session__Output } from './session/v1/Session';
import type { SessionServiceClient as _session_v1_SessionServiceClient, SessionServiceDefinition as _session_v1_SessionServiceDefinition } from './session/v1/SessionService';
import type { UpdateRequest as _session_v1_UpdateRequest, UpdateRequest__Output as _session_v1_UpdateRequest__Output } from './session/v1/UpdateRequest';
import type { UpdateResponse as _session_v1_UpdateResponse, UpdateResponse__Output as _session_v1_UpdateResponse__Output } from './session/v1/UpdateResponse';
import type { WatchRevocationsRequest as _session_v1_WatchRevocationsRequest, WatchRevocationsRequest__Output as _session_v1_WatchRevocationsRequest__Output } from './session/v1/WatchRevocationsRequest';
import type { WatchRevocationsResponse as _session_v1_WatchRevocationsResponse, WatchRevocationsResponse__Output as _session_v1_WatchRevocationsResponse__Output } from './session/v1/WatchRevocationsResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  session: {
    v1: {
      ClientInfo: MessageTypeDefinition<_session_v1_ClientInfo, _session_v1_ClientInfo__Output>
      Confirmation: MessageTypeDefinition<_session_v1_Confirmation, _session_v1_Confirmation__Output>
      CreateRequest: MessageTypeDefinition<_session_v1_CreateRequest, _session_v1_CreateRequest__Output>
      CreateResponse: MessageTypeDefinition<_session_v1_CreateResponse, _session_v1_CreateResponse__Output>
      DpopProof: MessageTypeDefinition<_session_v1_DpopProof, _session_v1_DpopProof__Output>
      ExchangeRequest: MessageTypeDefinition<_session_v1_ExchangeRequest, _session_v1_ExchangeRequest__Output>
      ExchangeResponse: MessageTypeDefinition<_session_v1_ExchangeResponse, _session_v1_ExchangeResponse__Output>
      GetJwksRequest: MessageTypeDefinition<_session_v1_GetJwksRequest, _session_v1_GetJwksRequest__Output>
      GetJwksResponse: MessageTypeDefinition<_session_v1_GetJwksResponse, _session_v1_GetJwksResponse__Output>
      GetRequest: MessageTypeDefinition<_session_v1_GetRequest, _session_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_session_v1_GetResponse, _session_v1_GetResponse__Output>
      IdpSession: MessageTypeDefinition<_session_v1_IdpSession, _session_v1_IdpSession__Output>
      IntrospectBatchRequest: MessageTypeDefinition<_session_v1_IntrospectBatchRequest, _session_v1_IntrospectBatchRequest__Output>
      IntrospectBatchResponse: MessageTypeDefinition<_session_v1_IntrospectBatchResponse, _session_v1_IntrospectBatchResponse__Output>
      IntrospectRequest: MessageTypeDefinition<_session_v1_IntrospectRequest, _session_v1_IntrospectRequest__Output>
      IntrospectResponse: MessageTypeDefinition<_session_v1_IntrospectResponse, _session_v1_IntrospectResponse__Output>
      ListRequest: MessageTypeDefinition<_session_v1_ListRequest, _session_v1_ListRequest__Output>
      ListResponse: MessageTypeDefinition<_session_v1_ListResponse, _session_v1_ListResponse__Output>
      ReauthenticateRequest: MessageTypeDefinition<_session_v1_ReauthenticateRequest, _session_v1_ReauthenticateRequest__Output>
      ReauthenticateResponse: MessageTypeDefinition<_session_v1_ReauthenticateResponse, _session_v1_ReauthenticateResponse__Output>
      RefreshRequest: MessageTypeDefinition<_session_v1_RefreshRequest, _session_v1_RefreshRequest__Output>
      RefreshResponse: MessageTypeDefinition<_session_v1_RefreshResponse, _session_v1_RefreshResponse__Output>
      Revocation: MessageTypeDefinition<_session_v1_Revocation, _session_v1_Revocation__Output>
      RevocationReason: EnumTypeDefinition
      RevokeRequest: MessageTypeDefinition<_session_v1_RevokeRequest, _session_v1_RevokeRequest__Output>
      RevokeResponse: MessageTypeDefinition<_session_v1_RevokeResponse, _session_v1_RevokeResponse__Output>
      Session: MessageTypeDefinition<_session_v1_Session, _session_v1_Session__Output>
      /**
       * SessionService owns user sessions: server-side state in Redis, short-lived
       * JWT access tokens that any service can verify locally, and rotating opaque
       * refresh tokens with reuse (theft) detection.
       * 
       * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
       * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
       * google.rpc.BadRequest listing the offending fields.
       */
      SessionService: SubtypeConstructor<typeof grpc.Client, _session_v1_SessionServiceClient> & { service: _session_v1_SessionServiceDefinition }
      UpdateRequest: MessageTypeDefinition<_session_v1_UpdateRequest, _session_v1_UpdateRequest__Output>
      UpdateResponse: MessageTypeDefinition<_session_v1_UpdateResponse, _session_v1_UpdateResponse__Output>
      WatchRevocationsRequest: MessageTypeDefinition<_session_v1_WatchRevocationsRequest, _session_v1_WatchRevocationsRequest__Output>
      WatchRevocationsResponse: MessageTypeDefinition<_session_v1_WatchRevocationsResponse, _session_v1_WatchRevocationsResponse__Output>
    }
  }
}

