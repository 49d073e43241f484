"""The envelope parser and decompression on their own (no Django, no database)."""

import base64
import gzip
import io
import json
import zlib

import pytest
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item as SdkItem
from sentry_sdk.envelope import PayloadRef

from monitoring.errors.sentry import envelope as env
from monitoring.errors.sentry.envelope import EnvelopeError, Limits, TooLarge, UnsupportedEncoding

LIMITS = Limits(envelope_bytes=100_000, event_bytes=10_000, items=5)


def sdk_bytes(*items, headers=None) -> bytes:
    """An envelope serialised by sentry-sdk itself."""
    envelope = SdkEnvelope(headers=headers or {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"})
    for item in items:
        envelope.add_item(item)
    out = io.BytesIO()
    envelope.serialize_into(out)
    return out.getvalue()


def test_it_reads_what_sentry_sdk_serialises():
    data = sdk_bytes(
        SdkItem(payload=PayloadRef(json={"message": "hello", "level": "error"}), type="event"),
        SdkItem(payload=b"\xef\xbb\xbfHello\r\n", type="attachment", filename="hello.txt"),
        SdkItem(payload=PayloadRef(json={"sid": "x", "status": "ok"}), type="session"),
    )
    parsed = env.parse_envelope(data, limits=LIMITS)
    assert parsed.headers["event_id"] == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert [i.type for i in parsed.items] == ["event", "attachment", "session"]
    assert parsed.items[0].data == {"message": "hello", "level": "error"}
    assert parsed.items[1].payload == b"\xef\xbb\xbfHello\r\n"  # binary, newline included: read by length
    assert parsed.items[2].data is None  # not read: ignored type


def test_items_without_length_run_to_the_newline_and_the_last_newline_is_optional():
    data = b'{}\n{"type":"event"}\n{"message":"a"}\n{"type":"event","length":16}\n{"message":"bb"}'
    parsed = env.parse_envelope(data, limits=LIMITS)
    assert [i.data for i in parsed.items] == [{"message": "a"}, {"message": "bb"}]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "envelope header is empty"),
        (b"not json\n", "envelope header is not valid JSON"),
        (b"[1]\n", "envelope header must be a JSON object"),
        (b'{}\n{"length":2}\n{}\n', "item 0 header: type is required"),
        (b'{}\n{"type":"event","length":-1}\n', "item 0 (event): length must be a non-negative integer"),
        (b'{}\n{"type":"event","length":"2"}\n{}\n', "length must be a non-negative integer"),
        (b'{}\n{"type":"event","length":99}\n{}\n', "item 0 (event): length is 99 but only 3 bytes follow"),
        (b'{}\n{"type":"event","length":2}\n{}x\n', "the payload is not followed by a newline"),
        (b'{}\n{"type":"event"}\n{"broken\n', "item 0 (event) payload is not valid JSON"),
        (b'{}\n{"type":"transaction"}\n[]\n', "item 0 (transaction) payload must be a JSON object"),
        (b"{}\nnope\n", "item 0 header is not valid JSON"),
    ],
)
def test_malformed_envelopes_say_why(data, reason):
    with pytest.raises(EnvelopeError) as caught:
        env.parse_envelope(data, limits=LIMITS)
    assert reason in caught.value.reason
    assert caught.value.status == 400


def test_limits_answer_413():
    too_many = b"{}\n" + b'{"type":"session"}\n{}\n' * 6
    with pytest.raises(TooLarge, match="at most 5 items"):
        env.parse_envelope(too_many, limits=LIMITS)
    big_event = json.dumps({"message": "x" * 20_000}).encode()
    with pytest.raises(TooLarge, match="exceeds 10000 bytes"):
        env.parse_envelope(b'{}\n{"type":"event"}\n' + big_event, limits=LIMITS)
    # An attachment may be bigger than an event: only the envelope limit applies to it.
    parsed = env.parse_envelope(b'{}\n{"type":"attachment","length":20000}\n' + b"a" * 20_000, limits=LIMITS)
    assert len(parsed.items[0].payload) == 20_000
    with pytest.raises(TooLarge):
        env.parse_envelope(b"{}\n" + b" " * 100_000, limits=LIMITS)


def test_gzip_deflate_and_raw_deflate_are_read():
    data = b'{}\n{"type":"event"}\n{"message":"m"}\n'
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(data) + raw.flush()
    assert env.decompress(gzip.compress(data), "gzip", limit=1000) == data
    assert env.decompress(zlib.compress(data), "deflate", limit=1000) == data
    assert env.decompress(raw_deflate, "Deflate", limit=1000) == data
    assert env.decompress(data, "", limit=1000) == data
    assert env.decompress(data, "identity", limit=1000) == data


def test_brotli_is_read_when_installed():
    import brotli

    data = b'{}\n{"type":"event"}\n{"message":"m"}\n'
    assert env.decompress(brotli.compress(data), "br", limit=1000) == data
    with pytest.raises(TooLarge):
        env.decompress(brotli.compress(b"a" * 10_000_000), "br", limit=100_000)


def test_a_zip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflate to 50 MB
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge, match="decompressed body exceeds 1000000 bytes"):
        env.decompress(bomb, "gzip", limit=1_000_000)
    with pytest.raises(TooLarge):
        env.decompress(zlib.compress(b"\0" * 50_000_000), "deflate", limit=1_000_000)


def test_bad_or_unknown_compression_is_refused():
    with pytest.raises(EnvelopeError, match="not valid gzip data"):
        env.decompress(b"plain text", "gzip", limit=1000)
    with pytest.raises(EnvelopeError, match="gzip body is truncated"):
        env.decompress(gzip.compress(b"x" * 1000)[:-30], "gzip", limit=10_000)
    with pytest.raises(UnsupportedEncoding, match="'zstd' is not supported") as caught:
        env.decompress(b"x", "zstd", limit=1000)
    assert caught.value.status == 415


def test_store_bodies_plain_and_the_legacy_base64_zlib_form():
    event = {"message": "legacy", "event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    plain = json.dumps(event).encode()
    assert env.parse_store(plain, limits=LIMITS) == event
    assert env.parse_store(base64.b64encode(zlib.compress(plain)), limits=LIMITS) == event
    with pytest.raises(EnvelopeError, match="not a JSON object"):
        env.parse_store(b"hello", limits=LIMITS)
    with pytest.raises(TooLarge):
        env.parse_store(base64.b64encode(zlib.compress(b'{"m":"' + b"x" * 50_000 + b'"}')), limits=LIMITS)


def test_event_ids_are_normalised_or_made():
    assert env.event_id_of({"event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC"}) == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert len(env.event_id_of({})) == 32
    assert env.event_id_of({}, "9ec79c33ec9942ab8353589fcb2e04dc") == "9ec79c33ec9942ab8353589fcb2e04dc"
    with pytest.raises(EnvelopeError, match="is not a UUID"):
        env.event_id_of({"event_id": "nope"})
    with pytest.raises(EnvelopeError, match="must be a string"):
        env.event_id_of({"event_id": 5})
