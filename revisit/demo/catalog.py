"""What the demo dealer group is made of: stores, staff, names, regions, models, insurers and
upsell items, with the weights the generator in ``revisit.demo.generator`` draws them by."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class Pick(Generic[T]):
    """A weighted choice; call it with a ``random.random``-like function."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("Pick needs as many weights as items, and at least one")
        self.items = tuple(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]
        self.last = len(self.items) - 1

    def __call__(self, rnd: Callable[[], float]) -> T:
        return self.items[min(bisect_right(self.cum, rnd() * self.total), self.last)]


def _pick(pairs: str) -> Pick[str]:
    """``"陈 9 林 8"`` -> a Pick of the words by the numbers after them."""
    words = pairs.split()
    return Pick(words[0::2], [float(w) for w in words[1::2]])


# store_id, name, timezone, phone, address, sms_sender
STORES = (
    ("QZFZ", "鸿达汽车泉州丰泽服务中心", "Asia/Shanghai", "0595-22881234",
     "福建省泉州市丰泽区刺桐路688号", "鸿达汽车丰泽店"),
    ("QZJJ", "鸿达汽车晋江服务中心", "Asia/Shanghai", "0595-85661288",
     "福建省晋江市世纪大道1288号", "鸿达汽车晋江店"),
    ("QZAX", "鸿达汽车安溪服务中心", "Asia/Shanghai", "0595-23281166",
     "福建省泉州市安溪县凤城镇河滨南路99号", "鸿达汽车安溪店"),
)  # fmt: skip
ADVISORS = (
    ("林志强", "陈雅婷", "黄建华", "王丽娟", "蔡明辉", "许晓燕"),
    ("吴国栋", "郑美玲", "洪文斌", "苏晓梅", "施家豪"),
    ("刘金福", "李秀琴", "谢俊杰", "柯淑芬"),
)
# Each store's customer-service callers (客服 / 招揽专员), the stores file's callers column.
CALLERS = (("王芳", "陈晓红"), ("张丽萍", "黄秋燕"), ("林美华",))
TEAMS = ("机电一组", "机电二组", "快修组", "钣喷组")  # bodywork always goes to 钣喷组 (last)

# Quanzhou districts and counties with the store that serves them (-1: no region recorded).
REGIONS: Pick[tuple[str, int]] = Pick(
    [("鲤城区", 0), ("丰泽区", 0), ("洛江区", 0), ("泉港区", 0), ("惠安县", 0), ("晋江市", 1),
     ("石狮市", 1), ("南安市", 1), ("安溪县", 2), ("永春县", 2), ("德化县", 2), ("", -1)],
    [10, 14, 6, 4, 7, 18, 8, 13, 10, 5, 3, 2],
)  # fmt: skip
REMOTE_REGIONS = frozenset(("安溪县", "永春县", "德化县", "惠安县"))  # far from a store: churn more

SURNAMES = _pick(
    "陈 11 林 10 黄 8 王 6 李 5 张 5 吴 5 刘 4 蔡 4 许 4 郑 4 洪 3 苏 3 庄 3 杨 3 谢 3 "
    "曾 2 周 2 施 2 柯 2 郭 2 傅 2 颜 2 戴 1 叶 2 徐 2 朱 1 卢 1 何 1 潘 1 肖 1 詹 1 "
    "欧阳 0.2"
)
GIVEN = _pick(
    "伟 3 芳 3 娜 2 敏 3 静 2 丽 3 强 3 磊 2 军 2 洋 2 勇 2 艳 2 杰 3 娟 2 涛 2 明 3 超 2 "
    "秀 2 霞 2 平 2 刚 1 桂 1 英 2 华 3 志 3 建 3 国 3 文 3 斌 2 辉 3 鹏 2 宇 2 浩 2 俊 2 "
    "峰 2 婷 2 雪 2 琳 2 晨 1 欣 2 怡 2 晓 3 海 2 荣 2 金 2 福 2 清 2 泉 1 龙 2 玲 2 燕 2 "
    "红 2 梅 2 春 2 凯 1 坤 1 阳 1 彬 1 萍 2 家 2 雅 2 美 2 淑 1 忠 1 水 1 添 1 锦 1"
)
# China Mobile, Unicom and Telecom prefixes, roughly by subscriber share.
MOBILE_PREFIXES = _pick(
    "139 9 138 9 137 6 136 6 135 6 134 3 150 5 151 4 152 3 157 2 158 5 159 6 182 3 "
    "183 2 187 3 188 3 198 2 130 2 131 2 132 2 155 2 156 2 185 2 186 4 166 1 176 1 "
    "133 2 153 2 180 2 181 2 189 3 177 2 173 1 199 2 191 1"
)

# name, VIN descriptor (positions 4-8), years on the market before as_of
MODELS: Pick[tuple[str, str, int]] = Pick(
    [("奔腾B50", "83AC5", 99), ("奔腾B30", "63AC4", 99), ("奔腾B70", "A3BC6", 99),
     ("奔腾X40", "73DC4", 7), ("奔腾X80", "B3DC7", 99), ("奔腾T77", "C3DC6", 6),
     ("奔腾T99", "D3DC8", 5), ("奔腾NAT", "E5EV1", 3)],
    [20, 12, 13, 14, 18, 12, 6, 5],
)  # fmt: skip

# Years after purchase in which owners who leave us leave: few during the 3-year warranty,
# a peak in the year after it ends; 58% within 4 years of purchase.
CHURN_YEARS = Pick([0, 1, 2, 3, 4, 5, 6, 7], [9, 12, 13, 28, 14, 10, 7, 7])

INSURERS = _pick(
    "人保财险 30 平安产险 25 太平洋产险 18 国寿财险 8 大地保险 6 阳光保险 5 太平保险 4 中华联合 4"
)


def _grades(a: float, b: float, c: float) -> Pick[str]:
    return Pick(["A", "B", "C"], [a, b, c])


# item, grade mix, amount range in yuan
ITEMS = (
    ("刹车片", _grades(5, 4, 1), 380, 900),
    ("刹车盘", _grades(3, 4, 3), 600, 1600),
    ("轮胎", _grades(3, 4, 3), 450, 1300),
    ("蓄电池", _grades(3, 4, 3), 450, 900),
    ("雨刮片", _grades(2, 5, 3), 80, 220),
    ("空调滤芯", _grades(2, 6, 2), 80, 180),
    ("刹车油", _grades(3, 5, 2), 200, 380),
    ("火花塞", _grades(2, 5, 3), 240, 600),
    ("防冻液", _grades(1, 4, 5), 180, 360),
    ("变速箱油", _grades(2, 4, 4), 600, 1400),
    ("节气门清洗", _grades(1, 3, 6), 150, 300),
    ("四轮定位", _grades(3, 4, 3), 150, 300),
    ("正时皮带", _grades(3, 4, 3), 900, 2200),
    ("减震器", _grades(2, 3, 5), 800, 2400),
    ("空调清洗", _grades(1, 4, 5), 120, 280),
)


def mobile(rnd: Callable[[], float], style: float) -> str:
    """A Chinese mobile number written the way DMS users type them (style in [0, 1))."""
    d = f"{MOBILE_PREFIXES(rnd)}{int(rnd() * 100_000_000):08d}"
    if style < 0.70:
        return d
    if style < 0.78:
        return f"+86 {d[:3]} {d[3:7]} {d[7:]}"
    if style < 0.85:
        return f"+86{d}"
    if style < 0.92:
        return f"{d[:3]}-{d[3:7]}-{d[7:]}"
    if style < 0.97:
        return f"{d[:3]} {d[3:7]} {d[7:]}"
    return f"86-{d}"


def export_phone(rnd: Callable[[], float]) -> str:
    """Mostly mobiles; about 1% Quanzhou landlines and 1% unusable values, as in real exports."""
    x = rnd()
    if x < 0.011:  # a landline: fine for calls, not for SMS
        return f"0595-{'2268'[int(rnd() * 4)]}{int(rnd() * 10_000_000):07d}"
    if x < 0.022:  # truncated, typed over, placeholder, empty
        bad = (mobile(rnd, 0.0)[:-1], mobile(rnd, 0.0)[:7] + "abcd", "", "无", "13800")
        return bad[int(rnd() * len(bad))]
    return mobile(rnd, rnd())


_VIN_VALUE = {str(d): d for d in range(10)} | dict(
    zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6,
                                    7, 8, 9], strict=True))  # fmt: skip
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 9, 8, 7, 6, 5, 4, 3, 2)  # check position left out
_VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"  # model-year codes: 'A' is 1980, 2010, 2040
_VIN_PLANTS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def vin_check_digit(vin16: str) -> str:
    """The GB 16735 / ISO 3779 check digit of a VIN without its 9th character."""
    rest = sum(_VIN_VALUE[c] * w for c, w in zip(vin16, _VIN_WEIGHTS, strict=True)) % 11
    return "X" if rest == 10 else str(rest)


def make_vin(n: int, year: int, descriptor: str) -> str:
    """The VIN of the n-th vehicle: unique per n (up to 33 million), with a valid check digit."""
    serial = (n * 7919 + 104_729) % 1_000_000  # a permutation of 0..999,999
    head = f"LFP{descriptor}"
    tail = f"{_VIN_YEARS[(year - 1980) % 30]}{_VIN_PLANTS[n // 1_000_000 % 33]}{serial:06d}"
    return f"{head}{vin_check_digit(head + tail)}{tail}"


def plate(rnd: Callable[[], float], model: str) -> str:
    """A Fujian plate, mostly Quanzhou (闽C), written with or without the middle dot."""
    x = rnd()
    if x < 0.005:
        return ""  # not registered yet when the car was entered
    city = "C" if x < 0.95 else "ABDE"[int(rnd() * 4)]
    if model.endswith("NAT"):  # new-energy plates have six characters
        body = f"{'DF'[int(rnd() * 2)]}{int(rnd() * 100_000):05d}"
    else:
        first = "ABCDEFGHJKLMNPQRSTUVWXYZ"[int(rnd() * 24)] if rnd() < 0.6 else str(int(rnd() * 10))
        body = f"{first}{int(rnd() * 10_000):04d}"
    return f"闽{city}·{body}" if rnd() < 0.5 else f"闽{city}{body}"
