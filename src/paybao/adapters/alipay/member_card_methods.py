"""Merchant membership cards on the gateway, wire-compatible with Alipay's alipay.marketing.card.*
(services/member_cards.py has the rules). A faithful subset, with Alipay's field names (the
official SDK's AlipayMarketingCard*Model, MerchantCard, CardUserInfo, TemplateStyleInfoDTO, ...):

- `alipay.marketing.card.template.create`: request_id (required, idempotent: the same request
  answers the same template_id), card_type OUT_MEMBER_CARD, biz_no_prefix (letters and digits)
  and biz_no_suffix_len (8..32; prefix + suffix at most 32), write_off_type `qrcode` or
  `barcode` (static: the card shows its number) or `dqrcode` or `dbarcode` (dynamic: the card
  shows a code the platform issues, valid a minute, domain/member_card_codes.py; Alipay's
  merchant-made mdqrcode / mdbarcode are refused),
  template_style_info {card_show_name, logo_id, background_id required; bg_color `rgb(r,g,b)` or
  `#rrggbb`, brand_name}, column_info_list (≤ 10: code, title, value, operate_type staticinfo |
  openWeb | openNative, more_info {title, url, descs}), field_rule_list (Balance, Point, Level,
  OpenDate, ValidDate × ASSIGN_FROM_REQUEST | CONST | DATE_IN_FUTURE `<n>m`/`<n>d`),
  card_action_list (≤ 4: code, text, url), card_level_conf (level, level_show_name), shop_ids,
  template_benefit_info. Other fields (pub_channels, open_card_conf, ...) are accepted and
  ignored. Answer: template_id (32 digits).
- `alipay.marketing.card.template.modify`: request_id (required; idempotent as create's, among
  the app's modifies: the same request_id and terms answer again without changing anything more,
  other terms are CONTEXT_INCONSISTENT), template_id (required; the app's own, else
  CARD_TEMPLATE_NOT_EXIST), and any of create's parts, each read and checked exactly as create
  reads it: biz_no_prefix, biz_no_suffix_len, write_off_type (any of the four: static ↔ dynamic
  too; the wallet's card page follows at its next load, a dynamic code already shown stops
  answering once its template is static), template_style_info (whole: its three required fields
  again), column_info_list, field_rule_list (for cards opened from now on), card_action_list,
  card_level_conf, shop_ids, template_benefit_info. A part given replaces the stored one whole
  (`[]` empties a list); a part not given, or JSON null, stays. Cards already held show the
  change at once (they read their template). Refused: card_type other than OUT_MEMBER_CARD
  (INVALID_PARAMETER: it never changes; the same value is accepted); a new biz_no_prefix or
  biz_no_suffix_len once any card of the template was opened (INVALID_PARAMETER: the numbers
  given would no longer follow it; the same values are accepted); dropping from card_level_conf
  a level a live card holds (CARD_LEVEL_IN_USE, naming the level). Fields create ignores are
  ignored here too. Answer: template_id.
- `alipay.marketing.card.template.query`: template_id; the template as it now stands (its levels
  under `card_level_confs`, as Alipay's answer names them).
- `alipay.marketing.card.open`: out_serial_no (idempotent), card_template_id, card_user_info
  {user_uni_id_type UID with user_uni_id (the 2088… user id), or OPEN_ID with open_id — paybao's
  open ids are its user ids}, card_ext_info {external_card_no, open_date, valid_date
  (yyyy-MM-dd HH:mm:ss), level, point (≤ 2 decimals), balance (yuan)}, open_card_channel(_id)
  echoed. The user must have authorised the app ("log in with paybao"), or the request carries
  the user's `auth_token` (a top-level parameter, as Alipay's card.open takes it). One live
  card per template per user: opening again answers the card the user holds. Answer: card_info
  {biz_card_no, external_card_no, open_date, valid_date, level, point, balance}.
- `alipay.marketing.card.query`: target_card_no, target_card_no_type BIZ_CARD (the card
  number), or D_QR_CODE / D_BAR_CODE (a dynamic code the till scanned off a dqrcode / dbarcode
  card: either type finds it, as the card shows one code both ways; unknown, expired, replaced,
  another app's: CARD_NOT_EXIST), card_user_info as an extra condition. Answer: card_info and
  schema_url (the card's page in the wallet).
- `alipay.marketing.card.update`: target_card_no, target_card_no_type BIZ_CARD (only: Alipay's
  update and delete take the biz card number; a till queries by code first), occur_time
  (required), card_info {point, balance, level} (the new values; open_date and valid_date cannot
  change, as Alipay's), notify_messages [{message_type, change_reason}] whose reasons go into
  the card's history. Answer: nothing beyond code 10000 (result_code is empty on success).
- `alipay.marketing.card.delete`: out_serial_no (idempotent), target_card_no,
  target_card_no_type BIZ_CARD, reason_code USER_UNBUND | CANCEL (the user can never hold this
  template's card again) | PRESENT. Answer: biz_serial_no.

A card's `balance` is the merchant's own stored value: paybao displays it and never moves money
for it (no journal entry, no payment spends it).

Refusals (code 40004 unless said): INVALID_PARAMETER (malformed or unsupported input),
CARD_TEMPLATE_NOT_EXIST (unknown, or another app's), CARD_NOT_EXIST (unknown, another app's,
or deleted), CARD_LEVEL_IN_USE (template.modify drops a level a live card holds),
USER_NOT_EXIST, USER_CARD_CANCELLED, TEMPLATE_COUNT_EXCEED (50 templates per app),
CONTEXT_INCONSISTENT (a request_id / out_serial_no used before with other parameters),
USER_STATUS_INVALID (frozen), isv.insufficient-user-permissions (40006: the user has not
authorised the app, or the auth_token is another user's), aop.invalid-auth-token (20001).
Alipay publishes no error table for these methods that we could find; these are its usual
business sub_code forms, unprefixed as its marketing methods' are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.biz_fields import BizFields, terms_digest
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.methods import Call, Fields, Methods, format_time, user_id_from_wire
from paybao.domain.errors import DomainError
from paybao.domain.member_cards import (
    ACTIONS_MAX,
    BENEFITS_MAX,
    CARD_TYPE,
    COLUMNS_MAX,
    EXTERNAL_CARD_NO_LENGTH_MAX,
    LEVELS_MAX,
    SHOPS_MAX,
    CardValues,
    DeleteReason,
    FieldName,
    FieldRule,
    RuleName,
    TemplateChanges,
    TemplateSpec,
    TemplateStyle,
    WriteOff,
    change_reason,
    check_color,
    check_field_rules,
    check_level,
    format_point,
    parse_point,
)
from paybao.services.clock import us_from_datetime
from paybao.services.member_card_codes import MemberCardCodes
from paybao.services.member_cards import (
    Card,
    CardUpdate,
    MemberCardService,
    NewTemplate,
    OpenRequest,
    Template,
    TemplateModification,
)
from paybao.services.user_oauth import UserOAuthService

TEMPLATE_CREATE: Final = "alipay.marketing.card.template.create"
TEMPLATE_QUERY: Final = "alipay.marketing.card.template.query"
TEMPLATE_MODIFY: Final = "alipay.marketing.card.template.modify"
CARD_OPEN: Final = "alipay.marketing.card.open"
CARD_QUERY: Final = "alipay.marketing.card.query"
CARD_UPDATE: Final = "alipay.marketing.card.update"
CARD_DELETE: Final = "alipay.marketing.card.delete"
INVALID: Final = "INVALID_PARAMETER"
BIZ_CARD: Final = "BIZ_CARD"
BIZ_CARD_ONLY: Final = frozenset({BIZ_CARD})
DYNAMIC_CODE_TYPES: Final = frozenset({"D_QR_CODE", "D_BAR_CODE"})
OPERATE_TYPES: Final = frozenset({"staticinfo", "openWeb", "openNative"})
TEXT_MAX: Final = 64
URL_MAX: Final = 1024
DESCS_MAX: Final = 10
_FIELDS: Final = BizFields(INVALID, strip=True)
_text = _FIELDS.text
SUB_CODES: Final[Mapping[str, tuple[str, str | None]]] = {
    "member_card_invalid": (INVALID, None),
    "member_card_template_not_found": ("CARD_TEMPLATE_NOT_EXIST", None),
    "member_card_level_held": ("CARD_LEVEL_IN_USE", None),
    "member_card_not_found": ("CARD_NOT_EXIST", None),
    "user_not_found": ("USER_NOT_EXIST", None),
    "member_card_cancelled": ("USER_CARD_CANCELLED", None),
    "member_card_templates_exceeded": ("TEMPLATE_COUNT_EXCEED", None),
    "member_card_request_mismatch": ("CONTEXT_INCONSISTENT", None),
    "account_frozen": ("USER_STATUS_INVALID", None),
    "member_card_not_authorized": ("isv.insufficient-user-permissions", "40006"),
    "oauth_token_invalid": ("aop.invalid-auth-token", "20001"),
    "oauth_token_expired": ("aop.auth-token-time-out", "20001"),
}


def _translated(error: DomainError) -> WireError | None:
    known = SUB_CODES.get(error.code)
    if known is None:
        return None
    return WireError(known[0], error.message, gateway_code=known[1])


class MemberCardMethods:
    def __init__(
        self,
        cards: MemberCardService,
        oauth: UserOAuthService | None,
        base_url: str,
        codes: MemberCardCodes | None = None,
    ) -> None:
        self.cards = cards
        self.oauth = oauth
        self.base_url = base_url.rstrip("/")
        self.codes = codes  # None: no dynamic codes (card.query takes BIZ_CARD only)

    def install(self, methods: Methods, gateway: AlipayGateway | None = None) -> None:
        """Join the gateway's method table (the gateway verifies, dispatches and signs)."""
        handlers = {
            TEMPLATE_CREATE: self.template_create,
            TEMPLATE_QUERY: self.template_query,
            TEMPLATE_MODIFY: self.template_modify,
            CARD_OPEN: self.card_open,
            CARD_QUERY: self.card_query,
            CARD_UPDATE: self.card_update,
            CARD_DELETE: self.card_delete,
        }
        for method, handler in handlers.items():
            methods.table[method] = self._translating(handler)

    @staticmethod
    def _translating(handler: Callable[[Call], Fields]) -> Callable[[Call], Fields]:
        def run(call: Call) -> Fields:
            try:
                return handler(call)
            except WireError:
                raise
            except DomainError as error:
                wire_error = _translated(error)
                if wire_error is None:
                    raise
                raise wire_error from None

        return run

    # Templates -----------------------------------------------------------------------------

    def template_create(self, call: Call) -> Fields:
        biz = call.biz
        request_id = _text(biz, "request_id", 64, required=True)
        if _text(biz, "card_type", 32, required=True) != CARD_TYPE:
            raise WireError(INVALID, f"card_type 须为 {CARD_TYPE}")
        spec = template_spec(biz)
        terms = {key: value for key, value in biz.items() if key != "request_id"}
        template = self.cards.create_template(
            NewTemplate(
                app_id=call.app.app_id,
                merchant_id=call.app.merchant_id,
                request_id=request_id,
                fingerprint=terms_digest(terms),
                spec=spec,
            )
        )
        return {"template_id": template.template_id}

    def template_modify(self, call: Call) -> Fields:
        biz = call.biz
        request_id = _text(biz, "request_id", 64, required=True)
        template_id = _text(biz, "template_id", 32, required=True)
        if _text(biz, "card_type", 32, default=CARD_TYPE) != CARD_TYPE:
            raise WireError(INVALID, "card_type 不能修改")
        terms = {key: value for key, value in biz.items() if key != "request_id"}
        template = self.cards.modify_template(
            TemplateModification(
                app_id=call.app.app_id,
                template_id=template_id,
                request_id=request_id,
                fingerprint=terms_digest(terms),
                changes=template_changes(biz),
            )
        )
        return {"template_id": template.template_id}

    def template_query(self, call: Call) -> Fields:
        template_id = _text(call.biz, "template_id", 32, required=True)
        return template_fields(self.cards.template(template_id, call.app.app_id))

    # Cards ---------------------------------------------------------------------------------

    def card_open(self, call: Call) -> Fields:
        biz = call.biz
        out_serial_no = _text(biz, "out_serial_no", 64, required=True)
        template_id = _text(biz, "card_template_id", 32, required=True)
        user_id = _card_user(_object(biz, "card_user_info", required=True))
        if user_id is None:
            raise WireError("USER_NOT_EXIST", "用户不存在")
        token_checked = self._check_token(call, user_id)
        ext = _object(biz, "card_ext_info", required=True)
        values = CardValues(
            point_hundredths=_point(ext),
            balance_fen=_balance(ext),
            level=_level(ext),
            open_at=_date(ext, "open_date"),
            valid_until=_date(ext, "valid_date"),
            external_card_no=_text(ext, "external_card_no", EXTERNAL_CARD_NO_LENGTH_MAX),
        )
        terms = {key: value for key, value in biz.items() if key != "out_serial_no"}
        opened = self.cards.open_card(
            OpenRequest(
                app_id=call.app.app_id,
                template_id=template_id,
                user_id=user_id,
                out_serial_no=out_serial_no,
                fingerprint=terms_digest(terms),
                values=values,
                token_checked=token_checked,
            )
        )
        fields: Fields = {"card_info": card_info(opened.card)}
        for key in ("open_card_channel", "open_card_channel_id"):
            if text := _text(biz, key, TEXT_MAX):
                fields[key] = text
        return fields

    def _check_token(self, call: Call, user_id: int) -> bool:
        """The request's auth_token, if any, must be this user's token for this app."""
        token = call.params.get("auth_token", "")
        if not token or self.oauth is None:
            return False
        holder = self.oauth.holder(call.app.app_id, token)
        if holder.user_id != user_id:
            raise WireError(
                "isv.insufficient-user-permissions",
                "auth_token 与 card_user_info 不是同一用户",
                gateway_code="40006",
            )
        return True

    def card_query(self, call: Call) -> Fields:
        kinds = BIZ_CARD_ONLY | (DYNAMIC_CODE_TYPES if self.codes is not None else frozenset())
        kind, number = _target(call.biz, kinds)
        holder = _object(call.biz, "card_user_info")
        user_id = _card_user(holder) if holder else None
        if holder and user_id is None:
            raise WireError("CARD_NOT_EXIST", "会员卡不存在")
        if kind == BIZ_CARD:
            found = self.cards.card(call.app.app_id, number, user_id)
        else:
            assert self.codes is not None
            found = self.codes.card_of(call.app.app_id, number, user_id)
        return {
            "card_info": card_info(found.card),
            "schema_url": f"{self.base_url}/wallet/member-cards/{found.card.id}",
        }

    def card_update(self, call: Call) -> Fields:
        biz = call.biz
        _, biz_card_no = _target(biz)
        occur = _text(biz, "occur_time", 19, required=True)
        occurred_at = wire.parse_timestamp(occur, sub_code=INVALID)
        info = _object(biz, "card_info", required=True)
        update = CardUpdate(
            occurred_at_us=us_from_datetime(occurred_at),
            point_hundredths=_point(info),
            balance_fen=_balance(info),
            level=_level(info),
            reason=change_reason(_reasons(biz)),
        )
        self.cards.update_card(call.app.app_id, biz_card_no, update)
        return {}

    def card_delete(self, call: Call) -> Fields:
        biz = call.biz
        out_serial_no = _text(biz, "out_serial_no", 64, required=True)
        _, biz_card_no = _target(biz)
        reason_text = _text(biz, "reason_code", 16, required=True)
        if reason_text not in ("USER_UNBUND", "CANCEL", "PRESENT"):
            raise WireError(INVALID, "reason_code 须为 USER_UNBUND、CANCEL 或 PRESENT")
        terms = {key: value for key, value in biz.items() if key != "out_serial_no"}
        serial = self.cards.delete_card(
            call.app.app_id,
            biz_card_no,
            out_serial_no,
            DeleteReason(reason_text),
            terms_digest(terms),
        )
        return {"biz_serial_no": serial}


# Answers ----------------------------------------------------------------------------------------


def card_info(card: Card) -> Fields:
    info: Fields = {
        "biz_card_no": card.biz_card_no,
        "open_date": format_time(card.open_at_us),
        "point": format_point(card.point_hundredths),
        "balance": wire.format_amount(card.balance_fen),
    }
    if card.external_card_no:
        info["external_card_no"] = card.external_card_no
    if card.valid_until_us is not None:
        info["valid_date"] = format_time(card.valid_until_us)
    if card.level:
        info["level"] = card.level
    return info


def template_fields(template: Template) -> Fields:
    spec = template.spec
    style = {
        key: value
        for key, value in {
            "card_show_name": spec.style.card_show_name,
            "logo_id": spec.style.logo_id,
            "background_id": spec.style.background_id,
            "bg_color": spec.style.bg_color,
            "brand_name": spec.style.brand_name,
        }.items()
        if value
    }
    fields: Fields = {
        "card_type": CARD_TYPE,
        "biz_no_prefix": spec.biz_no_prefix,
        "biz_no_suffix_len": str(spec.biz_no_suffix_len),
        "write_off_type": spec.write_off.value,
        "template_style_info": style,
    }
    lists: dict[str, Sequence[object]] = {
        "column_info_list": spec.columns,
        "field_rule_list": [
            {
                "field_name": r.field_name.value,
                "rule_name": r.rule_name.value,
                "rule_value": r.rule_value,
            }
            for r in spec.field_rules
        ],
        "card_action_list": spec.actions,
        "card_level_confs": spec.levels,
        "shop_ids": spec.shop_ids,
        "template_benefit_info": spec.benefits,
    }
    fields.update({key: list(value) for key, value in lists.items() if value})
    return fields


# Reading biz_content ----------------------------------------------------------------------------


def _object(biz: Mapping[str, object], key: str, *, required: bool = False) -> Mapping[str, object]:
    value = biz.get(key)
    if value is None or value == "":
        if required:
            raise WireError(INVALID, f"缺少必选参数 {key}")
        return {}
    if not isinstance(value, Mapping):
        raise WireError(INVALID, f"{key} 须为对象")
    return value


def _objects(biz: Mapping[str, object], key: str, count_max: int) -> list[Mapping[str, object]]:
    value = biz.get(key)
    if value is None or value == "":
        return []
    if not isinstance(value, list) or len(value) > count_max:
        raise WireError(INVALID, f"{key} 须为不超过 {count_max} 项的列表")
    if not all(isinstance(item, Mapping) for item in value):
        raise WireError(INVALID, f"{key} 的每一项须为对象")
    return value


def _strings(biz: Mapping[str, object], key: str, count_max: int, length_max: int) -> list[str]:
    value = biz.get(key)
    if value is None or value == "":
        return []
    if not isinstance(value, list) or len(value) > count_max:
        raise WireError(INVALID, f"{key} 须为不超过 {count_max} 项的列表")
    texts = [_text({key: item}, key, length_max) for item in value]
    return [text for text in texts if text]


def _url(biz: Mapping[str, object], key: str, *, required: bool = False) -> str:
    url = _text(biz, key, URL_MAX, required=required)
    if url and not url.startswith(("https://", "http://")):
        raise WireError(INVALID, f"{key} 须以 http:// 或 https:// 开头")
    return url


def _field_rule(item: Mapping[str, object]) -> FieldRule:
    try:
        name = FieldName(_text(item, "field_name", 16, required=True))
        rule = RuleName(_text(item, "rule_name", 32, required=True))
    except ValueError:
        raise WireError(INVALID, "field_rule_list 的 field_name 或 rule_name 不支持") from None
    return FieldRule(name, rule, _text(item, "rule_value", 32, required=True))


def _column(item: Mapping[str, object]) -> Mapping[str, object]:
    operate_type = _text(item, "operate_type", 16, default="staticinfo")
    if operate_type not in OPERATE_TYPES:
        raise WireError(INVALID, "operate_type 须为 staticinfo、openWeb 或 openNative")
    column: dict[str, object] = {
        "code": _text(item, "code", 32, required=True),
        "title": _text(item, "title", 32, required=True),
        "operate_type": operate_type,
    }
    if value := _text(item, "value", TEXT_MAX):
        column["value"] = value
    more = _object(item, "more_info")
    if more:
        column["more_info"] = {
            "title": _text(more, "title", 32),
            "url": _url(more, "url", required=operate_type == "openWeb"),
            "descs": _strings(more, "descs", DESCS_MAX, 128),
        }
    elif operate_type == "openWeb":
        raise WireError(INVALID, "openWeb 栏位须在 more_info 中给出 url")
    return column


def _action(item: Mapping[str, object]) -> Mapping[str, object]:
    return {
        "code": _text(item, "code", 32, required=True),
        "text": _text(item, "text", 16, required=True),
        "url": _url(item, "url", required=True),
    }


def _level_conf(item: Mapping[str, object]) -> Mapping[str, str]:
    return {
        "level": check_level(_text(item, "level", 32, required=True)),
        "level_show_name": _text(item, "level_show_name", 32, required=True),
    }


def _benefit(item: Mapping[str, object]) -> Mapping[str, object]:
    return {
        "title": _text(item, "title", 32, required=True),
        "benefit_desc": _strings(item, "benefit_desc", DESCS_MAX, 128),
        "start_date": _text(item, "start_date", 19),
        "end_date": _text(item, "end_date", 19),
    }


def _suffix_len(biz: Mapping[str, object]) -> int:
    suffix = _text(biz, "biz_no_suffix_len", 2, required=True)
    if not suffix.isdigit():
        raise WireError(INVALID, "biz_no_suffix_len 须为 8-32 的整数")
    return int(suffix)


def _write_off(biz: Mapping[str, object]) -> WriteOff:
    write_off = _text(biz, "write_off_type", 16, required=True)
    try:
        return WriteOff(write_off)
    except ValueError:
        # mdqrcode / mdbarcode too: the merchant's own code service would fill the card.
        raise WireError(
            INVALID, "write_off_type 仅支持 qrcode、barcode、dqrcode、dbarcode"
        ) from None


def _style(biz: Mapping[str, object]) -> TemplateStyle:
    style = _object(biz, "template_style_info", required=True)
    return TemplateStyle(
        card_show_name=_text(style, "card_show_name", 32, required=True),
        logo_id=_text(style, "logo_id", TEXT_MAX, required=True),
        background_id=_text(style, "background_id", TEXT_MAX, required=True),
        bg_color=check_color(_text(style, "bg_color", 32)),
        brand_name=_text(style, "brand_name", 32),
    )


def _field_rules(biz: Mapping[str, object]) -> tuple[FieldRule, ...]:
    items = _objects(biz, "field_rule_list", len(FieldName))
    return check_field_rules([_field_rule(item) for item in items])


def _parsed_each(
    key: str, count_max: int, parse: Callable[[Mapping[str, object]], Mapping[str, Any]]
) -> Callable[[Mapping[str, object]], tuple[Mapping[str, Any], ...]]:
    return lambda biz: tuple(parse(item) for item in _objects(biz, key, count_max))


# A template's parts: wire name -> (TemplateSpec field, reader). template.create reads them all
# (an absent one is the reader's default, or refused when required); template.modify reads the
# ones given, with the same readers, so both check a part alike.
_PARTS: Final[Mapping[str, tuple[str, Callable[[Mapping[str, object]], Any]]]] = {
    "biz_no_prefix": ("biz_no_prefix", lambda biz: _text(biz, "biz_no_prefix", 24)),
    "biz_no_suffix_len": ("biz_no_suffix_len", _suffix_len),
    "write_off_type": ("write_off", _write_off),
    "template_style_info": ("style", _style),
    "field_rule_list": ("field_rules", _field_rules),
    "column_info_list": ("columns", _parsed_each("column_info_list", COLUMNS_MAX, _column)),
    "card_action_list": ("actions", _parsed_each("card_action_list", ACTIONS_MAX, _action)),
    "card_level_conf": ("levels", _parsed_each("card_level_conf", LEVELS_MAX, _level_conf)),
    "shop_ids": ("shop_ids", lambda biz: tuple(_strings(biz, "shop_ids", SHOPS_MAX, 32))),
    "template_benefit_info": (
        "benefits",
        _parsed_each("template_benefit_info", BENEFITS_MAX, _benefit),
    ),
}


def template_spec(biz: Mapping[str, object]) -> TemplateSpec:
    """Every part of a template.create."""
    return TemplateSpec(**{name: read(biz) for name, read in _PARTS.values()})


def template_changes(biz: Mapping[str, object]) -> TemplateChanges:
    """The parts a template.modify gives (JSON null counts as not given)."""
    return TemplateChanges(
        **{name: read(biz) for key, (name, read) in _PARTS.items() if biz.get(key) is not None}
    )


def _card_user(info: Mapping[str, object]) -> int | None:
    """The user a card_user_info names (None: nobody paybao knows)."""
    kind = _text(info, "user_uni_id_type", 32, required=True).upper()
    if kind == "UID":
        text = _text(info, "user_uni_id", 32, required=True)
    elif kind == "OPEN_ID":
        text = _text(info, "open_id", 128) or _text(info, "user_uni_id", 32, required=True)
    else:
        raise WireError(INVALID, "user_uni_id_type 须为 UID 或 OPEN_ID")
    return user_id_from_wire(text)


def _target(biz: Mapping[str, object], kinds: frozenset[str] = BIZ_CARD_ONLY) -> tuple[str, str]:
    """(target_card_no_type, target_card_no), the type one of `kinds`."""
    kind = _text(biz, "target_card_no_type", 16, default=BIZ_CARD)
    if kind not in kinds:
        raise WireError(INVALID, f"target_card_no_type 仅支持 {'、'.join(sorted(kinds))}")
    return kind, _text(biz, "target_card_no", 32, required=True)


def _point(info: Mapping[str, object]) -> int | None:
    text = _text(info, "point", 16)
    return parse_point(text) if text else None


def _balance(info: Mapping[str, object]) -> int | None:
    value = info.get("balance")
    if value is None or value == "":
        return None
    return wire.parse_amount_fen(value, field="balance", allow_zero=True, sub_code=INVALID)


def _level(info: Mapping[str, object]) -> str | None:
    text = _text(info, "level", 32)
    return check_level(text) if text else None


def _date(info: Mapping[str, object], key: str) -> datetime | None:
    text = _text(info, key, 19)
    return wire.parse_timestamp(text, sub_code=INVALID) if text else None


def _reasons(biz: Mapping[str, object]) -> list[str]:
    return [_text(message, "change_reason", 64) for message in _objects(biz, "notify_messages", 3)]
