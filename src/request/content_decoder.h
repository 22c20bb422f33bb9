/*
 * content_decoder.h - response content codings (RFC 9110 section 8.4):
 * which coding a Content-Encoding field names, and a streaming decoder
 * for gzip and deflate on top of zlib.
 *
 * The decoder does no I/O: the caller hands it compressed bytes and an
 * output buffer, it hands back how much it took and how much it wrote.
 * It never writes more than the output buffer holds, whatever the
 * compression ratio, so a "zip bomb" costs time, never memory. Its memory
 * is zlib's inflate state (about 7 KiB) and window (32 KiB, allocated on
 * the first decoded byte), both through ah__malloc so that the allocation
 * torture reaches them, plus a few bytes of its own. Errors are values:
 * AH_OK, AH_ERR_DECODING with a static sentence in *detail, or
 * AH_ERR_NO_MEMORY.
 */
#ifndef AH_REQUEST_CONTENT_DECODER_H
#define AH_REQUEST_CONTENT_DECODER_H

#include <stddef.h>

/* The Accept-Encoding value sent when decoding is asked for. */
#define AH__ACCEPT_ENCODING "gzip, deflate"

/* What ah__content_coding recognises. */
enum ah__coding {
  AH_CODING_IDENTITY = 0,   /* no coding: the body is handed out as is */
  AH_CODING_GZIP = 1,       /* "gzip", "x-gzip" (RFC 9110 section 8.4.1.3) */
  AH_CODING_DEFLATE = 2,    /* "deflate" (RFC 9110 section 8.4.1.2) */
  AH_CODING_UNSUPPORTED = 3 /* anything else: not decoded */
};

/*
 * Which coding the Content-Encoding field value value[0..len) names (the
 * caller joins several Content-Encoding fields with commas first). Names
 * are compared case-insensitively, optional whitespace (SP, HTAB) around
 * list elements is ignored, and so are empty list elements and
 * "identity" elements (RFC 9110 section 5.6.1: "gzip," is "gzip"). No
 * element left gives AH_CODING_IDENTITY (an empty value too); exactly one
 * gives AH_CODING_GZIP for "gzip" or "x-gzip" and AH_CODING_DEFLATE for
 * "deflate". Any other name, or two codings applied in turn ("gzip, br",
 * "gzip, gzip"), gives AH_CODING_UNSUPPORTED: the caller then hands the
 * body out undecoded, as WinInet and curl do. `value` may be NULL when
 * len is 0. Pure; never fails.
 */
int ah__content_coding(const char *value, size_t len);

typedef struct ah__decoder ah__decoder;

/*
 * Creates a decoder for `coding` (AH_CODING_GZIP, AH_CODING_DEFLATE, or
 * AH_CODING_IDENTITY, which copies bytes through unchanged). On AH_OK
 * *out is the new decoder, to be freed with ah__decoder_free. Errors
 * (*out is then NULL): AH_ERR_INVALID_PARAMETER for any other coding or a
 * NULL out, AH_ERR_NO_MEMORY.
 *
 * "gzip" accepts one or more gzip members (RFC 1952 section 2.2 allows
 * them to be concatenated) and checks each one's CRC-32 and length.
 * "deflate" is meant to be the zlib format (RFC 1950) but many servers
 * send bare deflate data (RFC 1951); both are accepted, told apart by the
 * first two bytes (see content_decoder.c).
 */
int ah__decoder_new(int coding, ah__decoder **out);

/*
 * Decodes from in[0..in_len) into out[0..out_len). On return *consumed is
 * how many input bytes were taken (the caller passes the rest again
 * later, with whatever arrives after them) and *produced how many decoded
 * bytes were written to out; either may be 0 while the other is not.
 * Never writes past out_len. `in` may be NULL when in_len is 0.
 *
 * A call returns AH_OK once all the input is consumed or the output
 * buffer is full. Output can remain pending without more input: while a
 * call fills the whole buffer (*produced == out_len), call again, with an
 * empty input if need be, until one produces less. With in_len > 0 and
 * out_len > 0, a call that returns AH_OK always consumes or produces.
 *
 * *finished is set to 1 when the bytes taken so far end exactly at the
 * end of the compressed stream and every decoded byte was handed out,
 * else 0. For gzip this can change back: another member may follow.
 * Identity never finishes by itself.
 *
 * Errors, after which the decoder gives the same error on every call and
 * only ah__decoder_free is of use (*consumed and *produced still say what
 * the failing call took and wrote, but written bytes must not be handed
 * on as body):
 *   AH_ERR_DECODING   corrupt data ("corrupt gzip data: invalid block
 *                     type"), a checksum or length mismatch, a zlib
 *                     stream that needs a preset dictionary, or bytes
 *                     after the end of the stream that do not start
 *                     another gzip member; *detail is a static sentence.
 *   AH_ERR_NO_MEMORY  zlib could not allocate its window.
 * *detail is NULL on AH_OK.
 */
int ah__decoder_run(ah__decoder *d, const void *in, size_t in_len,
                    size_t *consumed, void *out, size_t out_len,
                    size_t *produced, int *finished, const char **detail);

/*
 * The body ended: call this once after its last bytes were given to
 * ah__decoder_run and the decoded bytes drained (the last run produced
 * less than its out_len). Returns AH_OK if the stream was complete (every
 * gzip member too), or if no byte at all came: an empty body with a
 * Content-Encoding is accepted as an empty body. Returns AH_ERR_DECODING
 * ("truncated gzip stream", "truncated deflate stream") when the body
 * stopped inside the stream, and a failed decoder's own error again.
 * *detail is a static sentence on an error, NULL on AH_OK.
 */
int ah__decoder_end(ah__decoder *d, const char **detail);

/* Frees the decoder and zlib's state. NULL is accepted. */
void ah__decoder_free(ah__decoder *d);

#endif
