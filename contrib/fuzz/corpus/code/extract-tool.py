#!/usr/bin/env python3
# A tool that talks to the lazyLoader service.

import sys


class HttpServerThing:
    """Serve things.

    The docstring says quietCamelWord, and it stays a string.
    """

    def fetch_remote_page(self, url):
        # it's fine: an apostrophe in a comment
        return self.openUrlStream(url, mode='rb')  # trailing remark
