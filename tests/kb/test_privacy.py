"""Masking and redaction: every valid personal number is caught, ordinary numbers survive."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kb.privacy import id_card_checksum_ok, luhn_ok, mask_contact, mask_name, redact_text

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

filler = st.text(alphabet="的问题客户订单请尽快处理电话号码是联系我谢谢，。：；！ 、（）", max_size=12)


@st.composite
def mobiles(draw) -> str:
    second = draw(st.sampled_from("3456789"))
    rest = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)))
    number = f"1{second}{rest}"
    style = draw(st.sampled_from(["plain", "dash", "space", "+86", "+86 dash"]))
    return {
        "plain": number,
        "dash": f"{number[:3]}-{number[3:7]}-{number[7:]}",
        "space": f"{number[:3]} {number[3:7]} {number[7:]}",
        "+86": f"+86{number}",
        "+86 dash": f"+86-{number[:3]}-{number[3:7]}-{number[7:]}",
    }[style]


@st.composite
def id_cards(draw) -> str:
    region = draw(st.integers(110000, 820000))
    born = draw(st.dates(min_value=date(1930, 1, 1), max_value=date.today() - timedelta(days=1)))
    seq = draw(st.integers(0, 999))
    body = f"{region:06d}{born:%Y%m%d}{seq:03d}"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    if check == "X" and draw(st.booleans()):
        check = "x"
    return body + check


def _luhn_complete(partial: str) -> str:
    for d in "0123456789":
        if luhn_ok(partial + d):
            return partial + d
    raise AssertionError("unreachable")


@st.composite
def bank_cards(draw) -> str:
    length = draw(st.integers(16, 19))
    prefix = draw(st.sampled_from(["62", "4", "51", "55", "35", "60"]))
    body = prefix + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - len(prefix) - 1,
                                          max_size=length - len(prefix) - 1)))
    number = _luhn_complete(body)
    if draw(st.booleans()) and length in (16, 19):
        groups = [number[i:i + 4] for i in range(0, len(number), 4)]
        return draw(st.sampled_from([" ", "-"])).join(groups)
    return number


@st.composite
def emails(draw) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True))
    domain = draw(st.sampled_from(["example.com", "qq.com", "163.com", "corp.example.cn"]))
    return f"{local}@{domain}"


@st.composite
def landlines(draw) -> str:
    area = draw(st.sampled_from(["010", "021", "0755", "0571", "028"]))
    number = str(draw(st.integers(2, 9))) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                     min_size=6 if len(area) == 4 else 7,
                                                                     max_size=7)))
    return draw(st.sampled_from([f"{area}-{number}", f"({area}){number}", f"{area} {number}"]))


def _assert_gone(secret: str, before: str, after: str, placeholder: str) -> None:
    text = f"{before}{secret}{after}"
    redacted = redact_text(text)
    assert placeholder in redacted, (text, redacted)
    assert not any(c.isdigit() for c in redacted), (text, redacted)  # the filler has no digits


@settings(max_examples=300)
@given(mobiles(), filler, filler)
def test_no_mobile_number_slips_through(number, before, after):
    _assert_gone(number, before, after, "[手机号]")


@settings(max_examples=300)
@given(id_cards(), filler, filler)
def test_no_valid_id_card_slips_through(number, before, after):
    assert id_card_checksum_ok(number)
    _assert_gone(number, before, after, "[身份证号]")


@settings(max_examples=300)
@given(bank_cards(), filler, filler)
def test_no_luhn_valid_bank_card_slips_through(number, before, after):
    _assert_gone(number, before, after, "[银行卡号]")


@settings(max_examples=200)
@given(emails(), filler, filler)
def test_no_email_slips_through(address, before, after):
    redacted = redact_text(f"{before}{address}{after}")
    assert "[邮箱]" in redacted and "@" not in redacted


@settings(max_examples=200)
@given(landlines(), filler, filler)
def test_no_landline_slips_through(number, before, after):
    _assert_gone(number, before, after, "[固话]")


order_numbers = st.one_of(
    st.from_regex(r"(YX|DD|SO|FW|JD)20[0-9]{8,12}", fullmatch=True),   # prefixed order / case numbers
    st.from_regex(r"20[0-9]{6}[0-9]{2,4}", fullmatch=True),             # 10–12 digit order numbers
    st.from_regex(r"V[0-9]\.[0-9]{1,2}(\.[0-9])?", fullmatch=True),      # versions
    st.from_regex(r"E[0-9]{4}", fullmatch=True),                          # error codes
)


@settings(max_examples=300)
@given(order_numbers, filler, filler)
def test_order_numbers_versions_and_codes_are_not_mangled(token, before, after):
    text = f"{before}{token}{after}"
    assert redact_text(text) == text


@settings(max_examples=300)
@given(st.datetimes(), st.sampled_from(["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y年%m月%d日",
                                        "%Y%m%d", "%H:%M"]), filler)
def test_dates_and_times_are_not_mangled(moment, fmt, before):
    text = f"{before}{moment.strftime(fmt)}"
    assert redact_text(text) == text


def test_invalid_checksums_are_left_alone():
    assert redact_text("单号110101199003074515") == "单号110101199003074515"   # wrong ID check digit
    assert redact_text("流水4111111111111112") == "流水4111111111111112"       # fails Luhn
    assert redact_text("流水1234567890123456") == "流水1234567890123456"       # starts like no card


def test_mixed_text_example():
    text = "客户张先生（13812345678，zhang.san@example.com）身份证110101199003074514，卡号4111 1111 1111 1111，订单YX20240521123"
    assert redact_text(text) == "客户张先生（[手机号]，[邮箱]）身份证[身份证号]，卡号[银行卡号]，订单YX20240521123"


def test_mask_contact_forms():
    assert mask_contact("13812345678") == "138****5678"
    assert mask_contact("+86 138-1234-5678") == "138****5678"
    assert mask_contact("zhangsan@example.com") == "zh***@example.com"
    assert mask_contact("010-62345678") == "010-****5678"
    assert mask_contact("  ") is None
    assert mask_contact(None) is None


@given(mobiles())
def test_masked_mobile_never_shows_the_middle_digits(number):
    masked = mask_contact(number)
    digits = "".join(c for c in number if c.isdigit())[-11:]
    assert masked == f"{digits[:3]}****{digits[-4:]}"


def test_mask_name():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
