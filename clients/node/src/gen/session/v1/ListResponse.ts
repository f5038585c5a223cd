// Original file: ../../protos/session/v1/session.proto

import type { Session as _session_v1_Session, Session__Output as _session_v1_Session__Output } from '../../session/v1/Session';

export interface ListResponse {
  /**
   * One page, in a stable order (by session id) across pages.
   */
  'sessions'?: (_session_v1_Session)[];
  /**
   * Pass as ListRequest.page_token for the next page; empty on the last page.
   */
  'next_page_token'?: (string);
}

export interface ListResponse__Output {
  /**
   * One page, in a stable order (by session id) across pages.
   */
  'sessions': (_session_v1_Session__Output)[];
  /**
   * Pass as ListRequest.page_token for the next page; empty on the last page.
   */
  'next_page_token': (string);
}
