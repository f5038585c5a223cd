package io.github.sessionservice.client;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * An access token that passed every check.
 *
 * @param subject the user ({@code sub})
 * @param sessionId the session ({@code sid})
 * @param scopes granted scopes ({@code scope}, split)
 * @param clientId the application the session was created for ("" if none)
 * @param tokenId {@code jti}
 * @param issuedAt {@code iat}
 * @param expiresAt {@code exp}
 * @param claims every claim, the session's extra claims too
 * @param cnfJkt the thumbprint of the DPoP key the token is bound to ({@code cnf.jkt}; "" when
 *     not bound to a key)
 * @param cnfX5t the thumbprint of the client certificate the token is bound to ({@code
 *     cnf.x5t#S256}, RFC 8705; "" when not bound to a certificate)
 */
public record VerifiedToken(
    String subject,
    String sessionId,
    List<String> scopes,
    String clientId,
    String tokenId,
    Instant issuedAt,
    Instant expiresAt,
    Map<String, Object> claims,
    String cnfJkt,
    String cnfX5t) {}
