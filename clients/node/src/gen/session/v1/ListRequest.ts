// Original file: ../../protos/session/v1/session.proto


export interface ListRequest {
  'user_id'?: (string);
  /**
   * At most this many sessions per page; 0 means the default (50), more than the maximum
   * (1000) is treated as the maximum (AIP-158).
   */
  'page_size'?: (number);
  /**
   * The next_page_token of the previous page; empty for the first page.
   */
  'page_token'?: (string);
}

export interface ListRequest__Output {
  'user_id': (string);
  /**
   * At most this many sessions per page; 0 means the default (50), more than the maximum
   * (1000) is treated as the maximum (AIP-158).
   */
  'page_size': (number);
  /**
   * The next_page_token of the previous page; empty for the first page.
   */
  'page_token': (string);
}
