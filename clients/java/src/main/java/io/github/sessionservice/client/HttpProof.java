package io.github.sessionservice.client;

/**
 * A DPoP proof (RFC 9449) with the HTTP request it came with, for {@link Verifier#verify(String,
 * HttpProof, java.security.cert.X509Certificate)}.
 *
 * @param proof the value of the request's {@code DPoP} header ("" without one)
 * @param method the request's method, e.g. {@code GET}
 * @param uri the request's absolute URI; its query and fragment are not compared
 */
public record HttpProof(String proof, String method, String uri) {}
