"""The request log masks credentials in query strings (web/access_log.py), on the record
uvicorn's HTTP protocol writes and through its own access formatter."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from paybao.web.access_log import ACCESS_LOGGER, MASK, RedactCredentials, install, redact_path

TOKEN = "authusrB0123456789abcdef"


def _record(path: str) -> logging.LogRecord:
    """What uvicorn's h11/httptools protocols log for one request."""
    return logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:51234", "POST", path, "1.1", 200),
        None,
    )


def test_the_official_sdks_query_keeps_its_names_but_not_the_token() -> None:
    path = (
        "/gateway.do?app_id=2021000000000777&method=alipay.user.info.share&charset=utf-8"
        f"&auth_token={TOKEN}&sign=abc%2B%3D&timestamp=2026-11-27+06%3A00%3A00"
    )
    record = _record(path)
    assert RedactCredentials().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert TOKEN not in line
    assert f"auth_token={MASK}" in line
    assert "method=alipay.user.info.share" in line and "sign=abc%2B%3D" in line


def test_each_credential_name_is_masked_whatever_its_case_or_encoding() -> None:
    redacted = redact_path(
        "/bills/download?token=t1&Auth_Token=t2&app%5Fauth%5Ftoken=t3&refresh_token=t4"
        "&code=t5&auth_code=t6&access_token=t7&password=t8&state=keep&page=2"
    )
    for secret in ("t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"):
        assert f"={secret}" not in redacted
    assert redacted.endswith("&state=keep&page=2")
    assert redact_path("/wallet?lang=en") == "/wallet?lang=en"
    assert redact_path("/healthz") == "/healthz"
    assert redact_path("/x?token") == "/x?token"  # a bare name carries nothing


def test_other_records_pass_untouched_and_install_is_once() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "%s", ("x",), None)
    assert RedactCredentials().filter(record) and record.args == ("x",)
    install()
    install()
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, RedactCredentials) for f in logger.filters) == 1
