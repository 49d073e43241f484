"""The API's JSON parser: DRF's, with lone surrogates repaired.

JSON may escape half of a UTF-16 pair alone ("\\ud800"); Python decodes it into a str no
database driver can write, so a request carrying one ended in a 500 at the INSERT. Here it
becomes U+FFFD, as a UTF-8 decoder does with a bad byte (portal.lib.surrogates).
"""

from rest_framework import parsers

from portal.lib.surrogates import surrogates_replaced


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return surrogates_replaced(super().parse(stream, media_type, parser_context))
