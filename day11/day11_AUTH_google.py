"""Google access tokens for a daily job: fetched, cached until they expire, refreshed (google-auth).

Google access tokens last about an hour, so the mirror holds the long-lived grant instead: an OAuth
client (id, secret) with a refresh token (Google Ads and GA4), or a service-account key for GA4. The
token is fetched on first use, reused while valid, refreshed when it expires or when an API answers
401. A token endpoint that fails stops the run with a day11_SourceError (exit 3), one line, no secret.
"""
from __future__ import annotations

import json
from pathlib import Path

from day11_LOG_setup import day11_register_secret, day11_redact
from day11_SOURCES_google import day11_NoAuth, day11_SourceError

DAY11_ADS_SCOPE = "https://www.googleapis.com/auth/adwords"
DAY11_GA4_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
DAY11_GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DAY11_TOKEN_TIMEOUT_S = 30


class day11_GoogleAuth:
    """Bearer headers from google-auth credentials; one refresh per expiry or 401."""

    def __init__(self, credentials, session, label: str):
        from google.auth.transport.requests import Request

        self.credentials, self.label = credentials, label
        self.request = Request(session)
        self.fetches = 0

    def headers(self) -> dict:
        if not self.credentials.valid:  # no token yet, or expired (google-auth refreshes a little early)
            self._refresh()
        return {"Authorization": f"Bearer {self.credentials.token}"}

    def refresh(self) -> bool:
        self._refresh()
        return True

    def _refresh(self) -> None:
        from google.auth import exceptions

        try:
            self.credentials.refresh(_TimedRequest(self.request))
        except (exceptions.RefreshError, exceptions.TransportError) as exc:
            reason = _token_error(exc)
            raise day11_SourceError(f"Google OAuth token endpoint ({self.label}): {reason}") from None
        except (ValueError, TypeError, OverflowError, KeyError):  # a 200 whose expires_in or token is not usable
            raise day11_SourceError(f"Google OAuth token endpoint ({self.label}): an unusable token answer") from None
        if not isinstance(self.credentials.token, str) or not self.credentials.token.strip():  # google-auth takes null
            raise day11_SourceError(f"Google OAuth token endpoint ({self.label}): an unusable token answer")
        self.fetches += 1
        day11_register_secret(self.credentials.token)


class _TimedRequest:
    """google-auth's requests transport with a bounded wait (its default is two minutes)."""

    def __init__(self, request):
        self.request = request

    def __call__(self, *args, **kwargs):
        kwargs.setdefault("timeout", DAY11_TOKEN_TIMEOUT_S)
        return self.request(*args, **kwargs)


def _token_error(exc) -> str:
    from google.auth import exceptions

    if isinstance(exc, exceptions.TransportError):
        return "not reachable"
    detail = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    code = detail.get("error") if isinstance(detail.get("error"), str) else None
    return day11_redact(f"refresh refused ({code})" if code else f"refresh refused: {str(exc.args[0])[:120]}")


def day11_user_credentials(settings, scopes: list[str]):
    from google.oauth2.credentials import Credentials

    return Credentials(token=None, refresh_token=settings.google_refresh_token.get_secret_value(),
                       client_id=settings.google_client_id, client_secret=settings.google_client_secret.get_secret_value(),
                       token_uri=settings.google_token_uri or DAY11_GOOGLE_TOKEN_URI, scopes=scopes)


def day11_service_account_credentials(key_file: Path, token_uri: str | None):
    from google.oauth2 import service_account

    try:
        info = json.loads(Path(key_file).read_text())
    except (OSError, ValueError):
        raise day11_SourceError(f"GA4 service account: key file {key_file} is not readable JSON") from None
    if token_uri:
        info["token_uri"] = token_uri
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[DAY11_GA4_SCOPE])
    except (ValueError, KeyError) as exc:
        raise day11_SourceError(f"GA4 service account: key file {key_file} unusable ({type(exc).__name__})") from None


def day11_google_auths(settings, session) -> tuple:
    """(Ads auth, GA4 auth): refresh-token credentials where configured, a service account for GA4 if given,
    no auth for the stand-ins. One user credential serves both APIs, so its token is fetched once."""
    for secret in (settings.google_client_secret, settings.google_refresh_token, settings.ads_developer_token):
        if secret:
            day11_register_secret(secret.get_secret_value())
    user = None
    if settings.google_refresh_token:
        user = day11_GoogleAuth(day11_user_credentials(settings, [DAY11_ADS_SCOPE, DAY11_GA4_SCOPE]), session, "refresh token")
    ga4 = user
    if settings.ga4_service_account_file:
        ga4 = day11_GoogleAuth(day11_service_account_credentials(settings.ga4_service_account_file, settings.google_token_uri),
                               session, "GA4 service account")
    return user or day11_NoAuth(), ga4 or day11_NoAuth()


def day11_ads_headers(settings) -> dict:
    headers = {}
    if settings.ads_developer_token:
        headers["developer-token"] = settings.ads_developer_token.get_secret_value()
    if settings.ads_login_customer_id:  # the manager account through which the client account is reached
        headers["login-customer-id"] = settings.ads_login_customer_id
    return headers
