"""The files a DMS export is made of: their columns, Chinese header aliases, parsers and
references. One :class:`FileKind` per file of the import format (see README, Data formats)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from revisit.dms.importing import values as v


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    parse: Callable[[str], Any] = v.parse_text
    default: Any = None
    # A required column whose bad value only warns (the phone: a customer keeps their history).
    warn_only: bool = False


@dataclass(frozen=True)
class Reference:
    """A column naming a row of another table; a row naming an unknown one is rejected."""

    column: str
    table: str
    key: str
    noun: str
    # (column here, column there) that must agree, e.g. an upsell item's vin and its visit's.
    agree: tuple[str, str] | None = None


@dataclass(frozen=True)
class FileKind:
    name: str  # also the table name
    key: str
    columns: tuple[Column, ...]
    file_aliases: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    # Columns stored beside the parsed ones (filled by the importer), with their defaults.
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    def db_columns(self) -> list[str]:
        return [c.name for c in self.columns] + list(self.derived)


_VIN = (
    "车架号",
    "vin码",
    "车架号/vin",
    "车辆识别代号",
    "车辆识别号",
    "底盘号",
    "车架号码",
    "vin号",
)
_CUSTOMER_ID = (
    "客户编号",
    "客户代码",
    "客户id",
    "客户号",
    "客户编码",
    "车主编号",
    "车主代码",
    "档案号",
)
_VISIT_ID = ("工单号", "维修工单号", "工单编号", "委托书号", "维修委托书号", "委托单号", "结算单号")

STORES = FileKind(
    name="stores",
    key="store_id",
    file_aliases=("门店", "门店信息", "store", "经销商", "网点"),
    columns=(
        Column(
            "store_id",
            ("门店编号", "门店代码", "门店id", "店号", "经销商代码", "经销商编号", "网点代码"),
            True,
            v.parse_id,
        ),
        Column("name", ("门店名称", "名称", "店名", "经销商名称", "网点名称"), True),
        Column("timezone", ("时区",), parse=v.parse_timezone, default="Asia/Shanghai"),
        Column("phone", ("电话", "门店电话", "服务热线", "服务电话")),
        Column("address", ("地址", "门店地址")),
        Column("sms_sender", ("短信签名", "签名")),
        # The store's customer-service callers, in turn order: "王芳;李娜".
        Column("callers", ("客服", "招揽专员", "回访专员", "客服人员")),
    ),
)

CUSTOMERS = FileKind(
    name="customers",
    key="customer_id",
    file_aliases=("客户", "客户信息", "客户档案", "customer", "车主", "车主信息"),
    columns=(
        Column("customer_id", _CUSTOMER_ID, True, v.parse_id),
        Column(
            "name", ("客户姓名", "姓名", "客户名称", "车主姓名", "车主名称", "车主", "客户"), True
        ),
        Column(
            "phone",
            (
                "手机号",
                "手机",
                "手机号码",
                "联系电话",
                "电话",
                "车主手机",
                "车主电话",
                "车主手机号",
                "车主联系电话",
                "客户手机",
                "客户电话",
                "联系手机",
                "移动电话",
                "联系方式",
            ),
            True,
            warn_only=True,
        ),
        Column("birthday", ("生日", "出生日期", "车主生日"), parse=v.parse_date),
        Column("region", ("地区", "区域", "所在地区", "区县", "行政区划"), parse=v.parse_region),
        Column(
            "store_id",
            ("门店编号", "所属门店", "门店代码", "门店", "经销商代码", "所属经销商"),
            parse=v.parse_id,
        ),
        Column(
            "consent_sms",
            ("短信授权", "接收短信", "同意短信", "是否接收短信", "短信许可"),
            parse=v.parse_bool,
            default=True,
        ),
        Column("language", ("语言",), parse=v.LANGUAGE, default="zh"),
    ),
    derived={"phone_raw": None, "phone_type": None, "phone_invalid": False, "birthday_md": None},
)

VEHICLES = FileKind(
    name="vehicles",
    key="vin",
    file_aliases=("车辆", "车辆信息", "车辆档案", "vehicle"),
    references=(Reference("customer_id", "customers", "customer_id", "customer"),),
    columns=(
        Column("vin", _VIN, True, v.parse_id),
        Column("customer_id", _CUSTOMER_ID, True, v.parse_id),
        Column("plate", ("车牌号", "车牌", "车牌号码", "牌照号"), parse=v.parse_code),
        Column("model", ("车型", "车型名称", "车系", "车型描述")),
        Column(
            "purchase_date",
            (
                "购车日期",
                "购买日期",
                "开票日期",
                "交车日期",
                "销售日期",
                "交付日期",
                "购车时间",
                "开票时间",
                "交车时间",
                "发票日期",
            ),
            True,
            v.parse_date,
        ),
        Column("status", ("状态", "车辆状态"), parse=v.VEHICLE_STATUS, default="active"),
    ),
)

VISITS = FileKind(
    name="visits",
    key="visit_id",
    file_aliases=("工单", "维修工单", "维修记录", "进厂记录", "visit", "repair_orders", "维修履历"),
    references=(Reference("vin", "vehicles", "vin", "vehicle"),),
    columns=(
        Column("visit_id", _VISIT_ID, True, v.parse_id),
        Column("vin", _VIN, True, v.parse_id),
        Column(
            "date",
            (
                "进厂日期",
                "日期",
                "维修日期",
                "开单日期",
                "进站日期",
                "进店日期",
                "入厂日期",
                "接车日期",
                "来店日期",
                "进厂时间",
                "开单时间",
            ),
            True,
            v.parse_date,
        ),
        Column(
            "mileage_km",
            ("里程", "进厂里程", "行驶里程", "公里数", "里程数", "进站里程", "表显里程"),
            parse=v.parse_mileage,
        ),
        Column(
            "type",
            ("维修类型", "类型", "工单类型", "业务类型", "维修类别", "服务类型", "维修性质"),
            True,
            v.VISIT_TYPES,
        ),
        Column(
            "amount",
            ("金额", "工单金额", "结算金额", "总金额", "实收金额", "应收金额", "维修金额"),
            parse=v.parse_money,
        ),
        Column("advisor", ("服务顾问", "顾问", "接待顾问", "接车员", "sa")),
        Column("team", ("班组", "维修班组")),
    ),
)

POLICIES = FileKind(
    name="policies",
    key="policy_id",
    file_aliases=("保单", "保险", "保险信息", "policy", "续保"),
    references=(Reference("vin", "vehicles", "vin", "vehicle"),),
    columns=(
        Column("policy_id", ("保单号", "保单编号", "保险单号"), True, v.parse_id),
        Column("vin", _VIN, True, v.parse_id),
        Column(
            "expiry_date",
            ("到期日期", "保险到期日", "终保日期", "保险止期", "保险到期日期", "到期日"),
            True,
            v.parse_date,
        ),
        Column("insurer", ("保险公司", "承保公司")),
        Column("renewed", ("已续保", "是否续保", "续保"), parse=v.parse_bool, default=False),
    ),
)

UPSELL_ITEMS = FileKind(
    name="upsell_items",
    key="item_id",
    file_aliases=("增修", "增修项目", "增项", "upsell", "upsell_item"),
    references=(
        Reference("vin", "vehicles", "vin", "vehicle"),
        Reference("visit_id", "visits", "visit_id", "visit", agree=("vin", "vin")),
    ),
    columns=(
        Column("item_id", ("项目编号", "增修编号", "增项编号"), True, v.parse_id),
        Column("visit_id", _VISIT_ID, True, v.parse_id),
        Column("vin", _VIN, True, v.parse_id),
        Column("item", ("项目", "增修项目", "项目名称", "增项"), True),
        Column("grade", ("等级", "级别", "分级", "类别"), True, v.GRADE),
        Column("status", ("状态", "是否接受", "结果"), True, v.UPSELL_STATUS),
        Column("amount", ("金额", "报价", "项目金额"), parse=v.parse_money),
        Column("due_date", ("建议日期", "建议更换日期", "到期日期"), parse=v.parse_date),
    ),
)

# In the order they must load: every file only refers to those before it.
KINDS: tuple[FileKind, ...] = (STORES, CUSTOMERS, VEHICLES, VISITS, POLICIES, UPSELL_ITEMS)
KINDS_BY_NAME = {k.name: k for k in KINDS}

# Brackets holding a unit or a note: 里程(km), 金额（元）, 手机【必填】.
_HEADER_BRACKETS = re.compile(r"[(\[【〔<《].*?[)\]】〕>》]")
_HEADER_NOISE = re.compile(r"[\s\-_*:：.·#'\"“”‘’]+")


def normalise_header(text: str) -> str:
    """A header cell reduced to what identifies it: NFKC (full-width → ASCII), lower case,
    without a bracketed unit or note (``(km)``, ``（公里）``, ``【必填】``), spaces,
    underscores, dashes, stars or colons — so ``Customer ID``, ``customer_id`` and
    ``ＣＵＳＴＯＭＥＲ＿ＩＤ`` are one header, as are ``行驶里程(km)`` and ``行驶里程``."""
    text = unicodedata.normalize("NFKC", text).lstrip("\ufeff").lower()
    text = _HEADER_BRACKETS.sub("", text)
    return _HEADER_NOISE.sub("", text)


def lookup_of(kind: FileKind, mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Normalised header → canonical column name for ``kind``: the user's ``mapping``
    (normalised header → column, see :mod:`revisit.dms.importing.mapping`) first, then the
    canonical names and their aliases."""
    lookup: dict[str, str] = {}
    for col in kind.columns:
        lookup.setdefault(normalise_header(col.name), col.name)
        for alias in col.aliases:
            lookup.setdefault(normalise_header(alias), col.name)
    names = {c.name for c in kind.columns}
    lookup.update({h: c for h, c in (mapping or {}).items() if c in names})
    return lookup


def header_map(
    kind: FileKind, header: list[str], mapping: dict[str, str] | None = None
) -> dict[str, int]:
    """Canonical column name → position in ``header``, for the columns this kind knows (the
    first header naming a column wins)."""
    lookup = lookup_of(kind, mapping)
    found: dict[str, int] = {}
    for pos, cell in enumerate(header):
        name = lookup.get(normalise_header(cell))
        if name is not None and name not in found:
            found[name] = pos
    return found
