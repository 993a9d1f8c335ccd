"""REST: forgotten passwords (忘记密码), services/password_resets.py.

Signed out, the login password:

- `POST /api/v1/password-resets` {phone} -> 202, whether or not the phone has an account (a
  code goes out only if it has one). 429 `sms_resend_too_soon` / `sms_daily_limit_reached`.
- `POST /api/v1/password-resets/confirm` {phone, sms_code, id_number?, new_login_password}
  -> 200. The ID number is needed when the account's real name is verified. 400
  `reset_proof_wrong` (code or ID number wrong, or no such account: one answer for all three;
  each costs one of the code's 5 tries), `sms_code_burned`, `sms_code_expired`,
  `sms_code_used`, `sms_code_missing`, `invalid_login_password`, `invalid_id_number`.
  A reset revokes every bearer token of the user: sign in again (POST /api/v1/wallet/sessions).

Signed in (bearer token or session), the payment password:

- `POST /api/v1/wallet/payment-password/reset-code` -> 202 {phone_masked}; 403
  `registration_incomplete` before the real name is verified.
- `POST /api/v1/wallet/payment-password/reset` {sms_code, id_number, new_payment_password}
  -> 200; lifts the payment lock.

No Idempotency-Key: the code is single-use, so a retry after a lost answer gets
`sms_code_used` and changes nothing (the password was set by the first call).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.services.password_resets import PasswordResetService
from paybao.web.api_wallet import User
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES, error_body

router = APIRouter(tags=["password resets"], responses=ERROR_RESPONSES)

TOO_MANY_CODES: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "A code was sent to this phone less than a minute ago, or too many today.",
        "content": {
            "application/json": {
                "example": error_body("sms_resend_too_soon", "wait before asking for another code")
            }
        },
    }
}


def _resets(request: Request) -> PasswordResetService:
    service: PasswordResetService = platform_of(request).services["password_resets"]
    return service


class ResetStartIn(BaseModel):
    phone: str = Field(max_length=32)


class ResetConfirmIn(BaseModel):
    phone: str = Field(max_length=32)
    sms_code: str = Field(max_length=16)
    id_number: str | None = Field(
        default=None,
        max_length=64,
        description="Required when the account's real name is verified; ignored otherwise.",
    )
    new_login_password: str = Field(max_length=64)


class PaymentResetIn(BaseModel):
    sms_code: str = Field(max_length=16)
    id_number: str = Field(max_length=64)
    new_payment_password: str = Field(max_length=16)


class AcceptedOut(BaseModel):
    status: str = Field(description='"code_sent_if_registered": the same for every phone.')


class ResetOut(BaseModel):
    status: str = Field(description='"reset"')


class CodeSentOut(BaseModel):
    phone_masked: str = Field(description='Where the code went, e.g. "138****1234".')


@router.post(
    "/api/v1/password-resets",
    status_code=202,
    response_model=AcceptedOut,
    responses=TOO_MANY_CODES,
)
def start_login_reset(body: ResetStartIn, request: Request) -> JSONResponse:
    """Text a code to the phone if it has an account. The answer is the same either way."""
    _resets(request).request_login_reset(body.phone)
    return JSONResponse({"status": "code_sent_if_registered"}, status_code=202)


@router.post("/api/v1/password-resets/confirm", response_model=ResetOut)
def confirm_login_reset(body: ResetConfirmIn, request: Request) -> ResetOut:
    """The code (+ ID number if verified) and the new login password."""
    _resets(request).confirm_login_reset(
        body.phone, body.sms_code, body.id_number, body.new_login_password
    )
    return ResetOut(status="reset")


@router.post(
    "/api/v1/wallet/payment-password/reset-code",
    status_code=202,
    response_model=CodeSentOut,
    responses=TOO_MANY_CODES,
    tags=["wallet"],
)
def start_payment_reset(request: Request, user_id: User) -> JSONResponse:
    """Text a code to the signed-in user's own phone, to reset the payment password."""
    phone_masked = _resets(request).request_payment_reset(user_id)
    return JSONResponse({"phone_masked": phone_masked}, status_code=202)


@router.post("/api/v1/wallet/payment-password/reset", response_model=ResetOut, tags=["wallet"])
def confirm_payment_reset(body: PaymentResetIn, request: Request, user_id: User) -> ResetOut:
    """The code, the ID number and the new payment password; lifts the payment lock."""
    _resets(request).confirm_payment_reset(
        user_id, body.sms_code, body.id_number, body.new_payment_password
    )
    return ResetOut(status="reset")
