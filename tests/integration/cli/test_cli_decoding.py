"""async --compressed (issue 5): "Accept-Encoding: gzip, deflate" is sent
and a gzip or deflate body is written decoded; a corrupt or truncated
stream is a protocol error (exit 4) with no output file; without the switch
the bytes are written as they came.

The scripted server's /gzip/<n> and /deflate/<n> encode n bytes of text
(or, with content=random, bodies.body(n, seed)) whatever the request asked
for; support.text_body and support.encoded make the same bytes here, so the
SHA-256 of the written file is checked against the original and against
the encoded stream.
"""

import unittest

import support
from support import MiB, bodies


class CliDecodingTest(support.FeatureTestCase):

    def check_decoded(self, path, plain, *extra):
        result = self.run_ok("-h", self.host, "-o", path, "--compressed",
                             "-w", "out.bin", *extra)
        self.assertFileSha("out.bin", support.sha256_bytes(plain), len(plain),
                           result)
        logged = self.requests()
        self.assertEqual(logged[-1].values("accept-encoding"),
                         ["gzip, deflate"])
        return result

    def check_undecodable(self, path):
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", path, "--compressed", "-w", "out.bin"],
            support.EXIT_PROTOCOL, any_of=["decod"], output="out.bin")

    # ---- decoded ----

    def test_gzip_text(self):
        self.check_decoded("/gzip/100000", support.text_body(100000))

    def test_gzip_random(self):
        self.check_decoded("/gzip/300000?content=random&seed=4",
                           bodies.body(300000, 4))

    def test_gzip_level_0_stored_blocks(self):
        self.check_decoded("/gzip/70000?level=0", support.text_body(70000))

    def test_gzip_chunked(self):
        self.check_decoded("/gzip/200000?framing=chunked&chunk=4096",
                           support.text_body(200000))

    def test_gzip_one_byte_chunks(self):
        self.check_decoded("/gzip/20000?framing=chunked&chunk=1",
                           support.text_body(20000))

    def test_gzip_close_delimited(self):
        self.check_decoded("/gzip/50000?framing=close",
                           support.text_body(50000))

    def test_gzip_empty_body(self):
        self.check_decoded("/gzip/0", b"")

    def test_gzip_8_mib(self):
        # About 30 KiB on the wire: the decoded side outgrows any buffer.
        self.check_decoded("/gzip/%d" % (8 * MiB), support.text_body(8 * MiB))

    def test_gzip_random_2_mib_chunked(self):
        self.check_decoded("/gzip/%d?content=random&seed=9&framing=chunked"
                           "&chunk=1000" % (2 * MiB), bodies.body(2 * MiB, 9))

    def test_x_gzip(self):
        # RFC 9110 8.4.1.3: x-gzip is gzip.
        self.check_decoded("/gzip/5000?coding=x-gzip", support.text_body(5000))

    def test_deflate_zlib(self):
        self.check_decoded("/deflate/100000", support.text_body(100000))

    def test_deflate_raw(self):
        # Some servers send raw deflate (RFC 1951) for "deflate".
        self.check_decoded("/deflate/100000?raw=1", support.text_body(100000))

    def test_deflate_random_chunked(self):
        self.check_decoded("/deflate/300000?content=random&seed=2"
                           "&framing=chunked", bodies.body(300000, 2))

    def test_decoded_after_a_redirect(self):
        self.check_decoded("/redirect/302?to=%s" % support.q("/gzip/30000"),
                           support.text_body(30000))

    # ---- not asked for ----

    def check_raw(self, path, fmt, plain):
        result = self.run_ok("-h", self.host, "-o", path, "-w", "out.bin")
        data = support.encoded(plain, fmt)
        self.assertFileSha("out.bin", support.sha256_bytes(data), len(data),
                           result)
        self.assertEqual(self.requests()[-1].values("accept-encoding"), [])

    def test_gzip_written_raw_without_compressed(self):
        self.check_raw("/gzip/100000", "gzip", support.text_body(100000))

    def test_deflate_written_raw_without_compressed(self):
        self.check_raw("/deflate/100000", "zlib", support.text_body(100000))

    def test_corrupt_gzip_written_raw_without_compressed(self):
        # Without --compressed nothing is decoded, so nothing can fail.
        result = self.run_ok("-h", self.host, "-o",
                             "/gzip-corrupt/5000?where=garbage", "-w",
                             "out.bin")
        self.assertEqual(self.read_file("out.bin"),
                         b"this is not compressed data\n" * 40,
                         result.describe())

    # ---- corrupt ----

    def test_gzip_bad_magic(self):
        self.check_undecodable("/gzip-corrupt/5000?where=header")

    def test_gzip_damaged_data(self):
        self.check_undecodable("/gzip-corrupt/100000?where=data")

    def test_gzip_bad_crc(self):
        self.check_undecodable("/gzip-corrupt/5000?where=crc")

    def test_gzip_garbage(self):
        self.check_undecodable("/gzip-corrupt/5000?where=garbage")

    def test_gzip_damaged_random_data(self):
        self.check_undecodable("/gzip-corrupt/300000?where=data"
                               "&content=random")

    def test_zlib_bad_header(self):
        self.check_undecodable("/gzip-corrupt/5000?where=header&format=zlib")

    def test_zlib_damaged_data(self):
        self.check_undecodable("/gzip-corrupt/100000?where=data&format=zlib")

    def test_zlib_bad_adler(self):
        self.check_undecodable("/gzip-corrupt/5000?where=crc&format=zlib")

    def test_zlib_garbage(self):
        self.check_undecodable("/gzip-corrupt/5000?where=garbage&format=zlib")

    def test_corrupt_gzip_chunked(self):
        self.check_undecodable("/gzip-corrupt/100000?where=data"
                               "&framing=chunked&chunk=100")

    # ---- truncated ----

    def test_gzip_truncated_half(self):
        self.check_undecodable("/gzip-truncated/100000")

    def test_gzip_truncated_after_header(self):
        self.check_undecodable("/gzip-truncated/100000?keep=10")

    def test_gzip_missing_last_byte(self):
        size = len(support.encoded(support.text_body(5000), "gzip"))
        self.check_undecodable("/gzip-truncated/5000?keep=%d" % (size - 1))

    def test_gzip_without_trailer(self):
        # The deflate stream is whole; the CRC-32 and length are not there.
        size = len(support.encoded(support.text_body(5000), "gzip"))
        self.check_undecodable("/gzip-truncated/5000?keep=%d" % (size - 8))

    def test_gzip_truncated_chunked(self):
        self.check_undecodable("/gzip-truncated/100000?framing=chunked")

    def test_gzip_truncated_close_delimited(self):
        self.check_undecodable("/gzip-truncated/100000?framing=close")

    def test_zlib_truncated(self):
        self.check_undecodable("/gzip-truncated/100000?format=zlib")

    def test_zlib_missing_last_byte(self):
        size = len(support.encoded(support.text_body(5000), "zlib"))
        self.check_undecodable("/gzip-truncated/5000?format=zlib&keep=%d"
                               % (size - 1))

    def test_raw_deflate_truncated(self):
        self.check_undecodable("/gzip-truncated/100000?format=raw")


if __name__ == "__main__":
    unittest.main()
