"""Similar-topics probe: timings and match quality of server/topics/similar.py.

Run from the repository root::

    .venv/bin/python benchmarks/similar_probe.py [--docs 30000] [--queries 300] [--quality]

It generates a synthetic but realistic year of topics (seeded, so every run sees the same
text): local matters rewritten from the labelled screening corpus
(server/topics/corpus/labelled.csv) with each room's own places, plus city-wide matters
(a bus route, a school's gate, a factory's smell...) raised from several rooms in bursts,
each paraphrased from several templates; every topic also carries a few words of its own,
so the vocabulary grows as a real one does. Every document knows which matter it is about.

Measured: building the index, `similar()` for new texts (alone, and in the submission flow
of similar-then-add, which keeps moving df under the kept lengths), `add()`, `remove()`,
and `clusters()` over the last 30 days. `--quality` also scores the precision and recall
of matches and the purity of clusters at several thresholds, against the generator's
labels. `--output FILE` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.topics.similar import Doc, SimilarityIndex, clusters

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "server" / "topics" / "corpus" / "labelled.csv"
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365

NAMES = list(
    [
        "幸福",
        "书香",
        "河畔",
        "丽景",
        "锦绣",
        "滨江",
        "桃源",
        "清河",
        "东湖",
        "南门",
        "运河",
        "新河",
        "王营",
        "漕运",
        "智谷",
        "蓝湾",
        "阳光",
        "和平",
        "建设",
        "东风",
        "向阳",
        "民主",
        "文化",
        "光明",
        "解放",
        "团结",
        "长江",
        "银杏",
        "梧桐",
        "紫荆",
        "金桥",
        "翠湖",
        "星海",
        "盛世",
        "御景",
        "枫林",
        "碧水",
        "朝阳",
        "春晖",
        "丰收",
        "工农",
        "红星",
        "华亭",
        "嘉禾",
        "康乐",
        "兰亭",
        "绿洲",
        "明珠",
        "南苑",
        "青松",
        "瑞祥",
        "顺河",
        "泰和",
        "万福",
        "文昌",
        "西湖",
        "祥和",
        "新华",
        "鑫源",
        "雅居",
        "怡景",
        "永安",
        "悦来",
        "振兴",
        "中山",
        "紫薇",
        "北辰",
        "宝塔",
        "沧浪",
        "大桥",
        "凤凰",
        "古城",
        "海棠",
        "鸿运",
        "金色",
        "君悦",
        "凯旋",
        "龙湾",
        "梅园",
        "宁安",
        "平江",
        "启明",
        "荣华",
        "尚城",
        "天鹅",
        "望江",
        "香山",
        "育才",
        "云龙",
    ]
)
ESTATES = ["小区", "花园", "家园", "新村", "苑", "公寓", "社区", "名都", "嘉园"]
DURATIONS = ["一个多月", "半个多月", "好几个星期", "两个多月", "大半年", "十来天", "三个月"]
ASKS = [
    "希望社区尽快协调有关部门处理。",
    "希望能派人来现场看一看，尽快解决。",
    "建议列入近期协商议事内容，听听大家的意见。",
    "请相关部门给个处理时间表，居民心里有个底。",
    "希望物业和社区一起想办法，别再拖了。",
    "已经向物业反映过多次，一直没有回音，只好在这里提。",
    "恳请领导重视，早日解决这个问题。",
    "麻烦社区帮忙反映一下，谢谢。",
]
EXTRAS = [
    "附近住的大多是老人和孩子，情况比较急。",
    "周末人流量更大，问题更突出。",
    "邻居们在群里讨论了很久，大家意见比较一致。",
    "之前修过一次，但没多久又坏了，希望彻底解决。",
    "打过12345热线，说会转给相关部门，后来就没消息了。",
    "这个问题已经存在{d}了。",
]
# Stock sentences residents add to any matter; each is in a few percent of all topics.
STOCK = [
    "家里有老人行动不便，出门很不方便。",
    "孩子每天上学都要经过这里，家长很担心。",
    "晚上下班回来的时候情况最严重。",
    "物业说这事不归他们管，让我们找社区。",
    "社区工作人员来看过，说要向上级反映。",
    "我们已经联名写过申请，签名的有{n}户。",
    "这个情况已经持续很长时间了，一直没有得到解决。",
    "下雨天的时候更麻烦，到处是积水。",
    "上次开居民会的时候也提过，当时说会尽快处理。",
    "很多住户都有同样的想法，只是没人出面。",
    "周边的商户也受到了影响，生意不好做。",
    "去年也出现过类似的情况，后来不了了之。",
    "希望能有个明确的答复，什么时候能处理好。",
    "拍了照片和视频，可以提供给相关部门。",
    "大家平时都很配合社区的工作，这次也希望社区能帮帮我们。",
    "我今年{n}岁了，身体也不太好，实在是没办法了。",
]
# City-wide matters: (entity kind, [(title, description)...]) paraphrases of one complaint.
KINDS: dict[str, tuple[Callable[[random.Random, str], str], list[tuple[str, str]]]] = {
    "bus": (
        lambda r, n: r.choice([f"{r.randint(1, 150)}路公交车", f"{r.randint(1, 150)}路公交"]),
        [
            ("{e}班次太少", "{e}班次太少，早高峰在{p}站要等{m}分钟，上班经常迟到，希望增加班次。"),
            ("{e}等车时间太长", "每天早上坐{e}，发车间隔太长，一等就是{m}多分钟，还挤不上去。"),
            ("建议{e}高峰加密班次", "{p}的居民上班都靠{e}，现在{m}分钟一班，远远不够。"),
            ("{e}发车间隔太长", "{e}车太少了，站台上经常等了{m}分钟还不来，老人和学生都着急。"),
            ("{e}车次少等车难", "反映一下{e}的问题，班次少间隔长，等车要{m}分钟，能不能多开几班。"),
        ],
    ),
    "school": (
        lambda r, n: n + r.choice(["实验小学", "第二中学", "中心小学", "外国语学校"]),
        [
            ("{e}门口上下学拥堵", "{e}门口每天放学时家长车辆乱停，把路堵死，孩子过马路很危险。"),
            (
                "{e}接送车辆乱停放",
                "上下学高峰{e}附近堵车严重，接送孩子的车占道停放，希望交警疏导。",
            ),
            ("{e}校门口交通隐患", "{e}校门口没有红绿灯和斑马线，接孩子的车乱停乱放，学生不安全。"),
            ("{e}早上堵成一片", "每天早上七点多{e}路口就堵死了，私家车随意掉头，学生上学很危险。"),
            ("{e}周边交通秩序差", "{e}放学时门口车辆和电动车挤成一团，{m}分钟都走不出去。"),
        ],
    ),
    "factory": (
        lambda r, n: n + r.choice(["化工厂", "造纸厂", "垃圾焚烧厂", "养殖场", "橡胶厂"]),
        [
            ("{e}排放刺鼻气味", "{e}晚上偷偷排气，刺鼻的味道飘到{p}，窗户都不敢开，老人咳嗽。"),
            ("{e}异味扰民", "最近{m}天{e}方向总有一股臭味，夜里特别明显，怀疑违规排放。"),
            ("{e}污染空气", "住在{p}的居民反映{e}排放的废气味道很大，闻久了头晕恶心。"),
            ("要求查处{e}偷排", "{e}经常半夜排放废气，空气里全是化学品的味道，影响好几个小区。"),
            ("{e}臭味严重", "{e}的臭味一刮风就飘过来，晾的衣服都是味，希望彻底整治。"),
        ],
    ),
    "works": (
        lambda r, n: n + r.choice(["路改造工程", "大道拓宽工程", "立交桥工地", "路管网工程"]),
        [
            ("{e}夜间施工噪音大", "{e}每天晚上十一点以后还在施工，机器轰鸣，{p}的居民睡不着。"),
            ("{e}施工扰民", "{e}夜里打桩，噪音特别大，孩子要中考休息不好，希望限制施工时间。"),
            ("{e}半夜施工", "连续{m}天了，{e}半夜还在开挖路面，渣土车来回跑，吵得睡不着。"),
            ("投诉{e}噪音", "{e}施工不分白天黑夜，噪音和扬尘都很大，请城管部门来查处。"),
            ("{e}晚上太吵", "{e}晚上施工的声音太吵了，老人心脏不好，一整夜都没法休息。"),
        ],
    ),
    "market": (
        lambda r, n: n + r.choice(["农贸市场", "菜市场", "便民市场"]),
        [
            ("{e}搬迁后买菜难", "{e}搬走以后，{p}附近没有买菜的地方了，老人要坐{m}站公交买菜。"),
            ("希望恢复{e}", "{e}关了以后居民买菜很不方便，希望在原址附近设一个便民菜点。"),
            ("{e}关闭影响生活", "自从{e}拆了，周边几个小区的老人买菜要走很远，菜价也贵了。"),
            ("{e}搬迁太远", "{e}搬到新地方太远了，没有公交直达，建议开通流动菜车。"),
            ("{e}不开了买菜不便", "原来的{e}不开了，现在买菜只能去超市，又贵又远，大家意见大。"),
        ],
    ),
    "hospital": (
        lambda r, n: n + r.choice(["人民医院", "中医院", "妇幼保健院"]),
        [
            ("{e}停车难", "去{e}看病停车太难了，排队等车位要{m}分钟，周边道路也被堵死。"),
            ("{e}周边交通拥堵", "{e}门口每天车辆排长队，救护车都进不去，建议增加停车场。"),
            ("{e}没有停车位", "带老人去{e}复查，转了{m}圈都找不到车位，只能停路边被贴罚单。"),
            ("建议{e}扩建停车场", "{e}的停车场太小，看病的车都停在马路上，造成严重拥堵。"),
            ("{e}就医停车难", "{e}附近停车位严重不足，希望协调附近单位开放停车位。"),
        ],
    ),
    "metro": (
        lambda r, n: f"地铁{r.randint(1, 9)}号线{n}站",
        [
            ("{e}施工扬尘大", "{e}施工工地扬尘很大，{p}的窗台每天一层灰，不敢开窗。"),
            ("{e}工地不洒水降尘", "{e}工地渣土没有覆盖，风一吹全是灰，路过的行人要捂着鼻子。"),
            ("{e}施工围挡占道", "{e}施工围挡把人行道占了，行人只能走机动车道，非常危险。"),
            ("投诉{e}扬尘污染", "{e}附近灰尘太大了，老人孩子咳嗽，请督促施工单位洒水降尘。"),
            ("{e}渣土车撒漏", "{e}的渣土车进出撒了一路泥土，下雨天路面全是泥浆。"),
        ],
    ),
    "river": (
        lambda r, n: n + r.choice(["河", "湖", "港", "渠"]),
        [
            ("{e}河水发黑发臭", "{e}的水又黑又臭，夏天气味很大，{p}的居民不敢开窗。"),
            ("{e}水质污染", "最近{e}水面漂着死鱼和垃圾，怀疑有排污口偷排。"),
            ("治理{e}黑臭水体", "{e}黑臭好几年了，整治了几次又反弹，希望彻底治理。"),
            ("{e}臭味扰民", "{e}边上散步的人都说臭，河里还有很多垃圾没人清理。"),
            ("{e}有人偷排污水", "看见有管子往{e}里排污水，水都变色了，请相关部门查处。"),
        ],
    ),
    "nightlife": (
        lambda r, n: n + r.choice(["酒吧街", "烧烤一条街", "夜市", "ktv"]),
        [
            ("{e}深夜噪音扰民", "{e}每天营业到凌晨两三点，喧哗声很大，{p}的居民睡不着。"),
            ("{e}扰民严重", "{e}半夜喝酒划拳，噪音大，还有人在路边吵架，希望加强管理。"),
            ("投诉{e}噪音", "住在{e}附近，每天夜里音乐声吵得人没法休息，投诉多次没效果。"),
            ("{e}油烟和噪音", "{e}的油烟和噪音都很大，一直闹到后半夜，老人孩子受不了。"),
            ("{e}营业太晚", "{e}夜里营业太晚，顾客大声喧哗，车辆乱停，影响周边居民休息。"),
        ],
    ),
    "park": (
        lambda r, n: n + r.choice(["公园", "湿地公园", "体育公园"]),
        [
            ("{e}长期关闭", "{e}改造了{m}个月还没开放，附近老人没地方锻炼。"),
            ("希望{e}早日开放", "{e}围起来施工很久了，一直说要开放，到现在还没动静。"),
            ("{e}改造进度慢", "{e}改造工程进展很慢，工地上经常没人干活，什么时候能完工？"),
            ("{e}不开放没地方活动", "{e}关了以后，{p}的居民晚上散步跳舞都没有地方去了。"),
            ("{e}施工拖延", "{e}施工一拖再拖，围挡都生锈了，希望给个明确的开放时间。"),
        ],
    ),
}
PLACE_RE = re.compile("[\u4e00-\u9fff]{2,3}(?:小区|花园|家园|苑|镇|街道|村|片区|广场|社区)")
CLAUSE_RE = re.compile("[^，。！？；]+[，。！？；]?")


@dataclass(frozen=True)
class Labelled:
    doc: Doc
    label: tuple[str, ...]  # same label = same matter
    kind: str  # a subject or a city-wide kind; same kind, other label: a hard negative


class Generator:
    """Topics of one city over a year, seeded."""

    def __init__(self, seed: int, rooms: int = 1800) -> None:
        self.rng = random.Random(seed)
        r = self.rng
        self.rooms = rooms
        self.places = [
            [r.choice(NAMES) + r.choice(ESTATES) for _ in range(r.randint(2, 4))]
            for _ in range(rooms)
        ]
        with CORPUS.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        # Clauses by subject: a local topic borrows its title and clauses from several
        # rows of one subject, so topics of one kind overlap the way real ones do.
        self.titles: dict[str, list[str]] = defaultdict(list)
        self.clauses: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            self.titles[row["subject"]].append(row["title"])
            self.clauses[row["subject"]] += CLAUSE_RE.findall(row["description"])
        self.subjects = sorted(self.titles)
        # Characters as often as residents use them: each topic also gets a few words of
        # its own (a name, a shop, a detail), so that the vocabulary grows as a real one
        # does (Heaps' law fitted on the labelled corpus: ~870,000 grams at 30,000 topics).
        self.chars = [ch for row in rows for ch in row["description"] if "\u4e00" <= ch <= "\u9fff"]

    def place(self, room: int) -> str:
        r = self.rng
        p = r.choice(self.places[room])
        return p + r.choice(["", "", f"{r.randint(1, 30)}号楼", f"{r.randint(1, 12)}栋"])

    def own_words(self) -> str:
        r = self.rng
        return "".join(r.choice(self.chars) for _ in range(r.randint(8, 24))) + "。"

    def filler(self) -> str:
        r = self.rng
        out = self.own_words()
        out += r.choice(EXTRAS).format(d=r.choice(DURATIONS)) if r.random() < 0.5 else ""
        for sentence in r.sample(STOCK, r.choice([0, 1, 1, 2, 2, 3])):
            out += sentence.format(n=r.randint(20, 90))
        return out + (r.choice(ASKS) if r.random() < 0.7 else "")

    def local(self, room: int, at: datetime, tid: int) -> Labelled:
        """A matter of this room only (its own matter: no other topic shares its label)."""
        r = self.rng
        p = self.place(room)
        subject = r.choice(self.subjects)
        clauses = r.sample(self.clauses[subject], r.randint(2, 4))
        body = PLACE_RE.sub(lambda _: self.place(room), "".join(clauses))
        lead = f"我是{p}的居民，" if r.random() < 0.3 else ""
        title = (p if r.random() < 0.3 else "") + r.choice(self.titles[subject])
        text = f"{title}\n{lead}{body}{self.filler()}"
        return Labelled(Doc(tid, room, at, text), ("local", str(tid)), subject)

    def matters(self, share: float, total: int) -> list[tuple[str, str, list[int], int, int, int]]:
        """(kind, entity, rooms, first day, days, topics) of the city-wide matters."""
        r, out, count = self.rng, [], 0
        while count < share * total:
            kind = r.choice(sorted(KINDS))
            entity = KINDS[kind][0](r, r.choice(NAMES))
            centre = r.randrange(self.rooms)
            spread = r.choice([1, 2, 5, 10, 25])
            rooms = sorted({(centre + r.randint(0, spread * 2)) % self.rooms for _ in range(30)})
            n = r.choice([3, 5, 8, 12, 20, 30])
            days = r.choice([7, 14, 30, 60])
            out.append((kind, entity, rooms, r.randrange(DAYS - days), days, n))
            count += n
        return out

    def matter(self, kind: str, entity: str, room: int, at: datetime, tid: int) -> Labelled:
        """One resident's words about a city-wide matter: a title and 2–3 clauses drawn
        from all the paraphrases of its kind, so two topics rarely share a whole sentence."""
        r = self.rng
        variants = KINDS[kind][1]
        title = r.choice(variants)[0]
        pool = [c for _, body in variants for c in CLAUSE_RE.findall(body)]
        body = "".join(r.sample(pool, r.randint(2, 3)))
        if "{e}" not in body:
            body = f"关于{{e}}，{body}"
        fill = {"e": entity, "p": self.place(room), "m": str(r.choice([15, 20, 30, 40, 5, 8]))}
        lead = f"我住在{self.place(room)}，" if r.random() < 0.3 else ""
        text = f"{title.format(**fill)}\n{lead}{body.format(**fill)}{self.filler()}"
        return Labelled(Doc(tid, room, at, text), ("matter", kind, entity), kind)

    def year(self, total: int, matter_share: float = 0.15) -> list[Labelled]:
        r = self.rng
        raw: list[tuple[datetime, str, tuple[str, str, int]]] = []
        for kind, entity, rooms, day, days, n in self.matters(matter_share, total):
            for _ in range(n):
                at = START + timedelta(days=day + r.random() * days)
                raw.append((at, "m", (kind, entity, r.choice(rooms))))
        while len(raw) < total:
            at = START + timedelta(days=r.random() * DAYS)
            raw.append((at, "l", ("", "", r.randrange(self.rooms))))
        raw.sort(key=lambda t: t[0])
        out = []
        for tid, (at, what, (kind, entity, room)) in enumerate(raw[:total], start=1):
            if what == "m":
                out.append(self.matter(kind, entity, room, at, tid))
            else:
                out.append(self.local(room, at, tid))
        return out


def calibrate() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 5): how fast this CPU is right now."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return round(s[max(0, math.ceil(p / 100 * len(s)) - 1)], 3)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p99": pct(values, 99), "max": max(values)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timings(args: argparse.Namespace, corpus: list[Labelled], fresh: list[Labelled]) -> dict:
    docs = [item.doc for item in corpus]
    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    index = SimilarityIndex(docs, sizes=args.sizes, heavy_df=args.heavy_df)
    build_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    print(f"build: {len(index)} docs in {build_s:.2f} s, RSS +{rss1 - rss0:.0f} MB")

    search_only = []
    for item in fresh:
        t = time.perf_counter()
        index.similar(item.doc.text, threshold=args.threshold)
        search_only.append((time.perf_counter() - t) * 1000)
    print(f"similar() alone, ms: {summary(search_only)}")

    flow, adds = [], []
    for item in fresh:
        t = time.perf_counter()
        index.similar(item.doc.text, threshold=args.threshold)
        t1 = time.perf_counter()
        index.add(item.doc)
        t2 = time.perf_counter()
        flow.append((t1 - t) * 1000)
        adds.append((t2 - t1) * 1000)
    print(f"similar() then add(), ms: similar {summary(flow)}; add {summary(adds)}")

    until = START + timedelta(days=DAYS)
    since = until - timedelta(days=30)
    removes = []
    for item in fresh[::2]:  # half the new topics resolved again
        t = time.perf_counter()
        index.remove(item.doc.topic_id)
        removes.append((time.perf_counter() - t) * 1000)
    print(f"remove(), ms: {summary(removes)}")
    kept = docs + [item.doc for item in fresh[1::2]]
    in_window = sum(1 for d in kept if since <= d.created_at < until)
    runs = []
    found = []
    for _ in range(3):
        t = time.perf_counter()
        found = clusters(index, threshold=args.cluster_threshold, since=since, until=until)
        runs.append(round(time.perf_counter() - t, 3))
    print(f"clusters(): {in_window} docs in window, {len(found)} clusters, s per run: {runs}")
    return {
        "build_seconds": round(build_s, 3),
        "rss_growth_mb": round(rss1 - rss0, 1),
        "similar_alone_ms": summary(search_only),
        "similar_in_submission_flow_ms": summary(flow),
        "add_ms": summary(adds),
        "remove_ms": summary(removes),
        "clusters": {"docs_in_window": in_window, "clusters": len(found), "seconds": runs},
    }


def quality(corpus: list[Labelled], samples: int, seed: int, sizes: tuple[int, ...]) -> dict:
    """Precision and recall of matches, by threshold, against the generator's labels."""
    index = SimilarityIndex((item.doc for item in corpus), sizes=sizes)
    by_label: Counter[tuple[str, ...]] = Counter(item.label for item in corpus)
    label_of = {item.doc.topic_id: item for item in corpus}
    rng = random.Random(seed)
    matters = [i for i in corpus if i.label[0] == "matter" and by_label[i.label] > 1]
    queries = rng.sample(matters, samples) + rng.sample(corpus, samples)
    thresholds = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]
    hits: dict[float, Counter[str]] = {t: Counter() for t in thresholds}
    positives = 0
    pos_scores: list[float] = []
    hard_scores: list[float] = []
    for q in queries:
        positives += by_label[q.label] - 1
        for m in index.similar(q.doc.text, limit=200, threshold=0.05, exclude={q.doc.topic_id}):
            other = label_of[m.topic_id]
            what = "same" if other.label == q.label else "hard" if other.kind == q.kind else "other"
            (pos_scores if what == "same" else hard_scores if what == "hard" else []).append(
                m.score
            )
            for t in thresholds:
                if m.score >= t:
                    hits[t][what] += 1
    table = {}
    for t in thresholds:
        h = hits[t]
        returned = sum(h.values())
        table[str(t)] = {
            "precision": round(h["same"] / returned, 3) if returned else None,
            "recall": round(h["same"] / positives, 3),
            "same_kind_other_matter": h["hard"],
            "unrelated": h["other"],
        }
        print(f"threshold {t}: {table[str(t)]}")
    until = START + timedelta(days=DAYS)
    since = until - timedelta(days=30)
    window = [i for i in corpus if since <= i.doc.created_at < until]
    truth: dict[tuple[str, ...], list[Labelled]] = defaultdict(list)
    for i in window:
        truth[i.label].append(i)
    real = {
        lab: items
        for lab, items in truth.items()
        if len(items) >= 5 and len({i.doc.room_id for i in items}) >= 3
    }
    print(f"window: {len(window)} docs, {len(real)} true matters with >= 5 topics, >= 3 rooms")
    cluster_table = {}
    for t in [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]:
        found = clusters(index, threshold=t, since=since, until=until)
        pure = 0
        recovered = set()
        for c in found:
            labs = Counter(label_of[tid].label for tid in c.topic_ids)
            lab, n = labs.most_common(1)[0]
            pure += n == len(c.topic_ids)
            if lab in real and n >= 0.8 * len(real[lab]):
                recovered.add(lab)
        cluster_table[str(t)] = {
            "clusters": len(found),
            "pure": pure,
            "true_matters_recovered": f"{len(recovered)}/{len(real)}",
            "largest": max((len(c.topic_ids) for c in found), default=0),
        }
        print(f"clusters at {t}: {cluster_table[str(t)]}")
        if t == 0.25:
            for c in found[:3]:
                print("   ", len(c.topic_ids), "topics", len(c.room_ids), "rooms:", c.top_terms)
    return {
        "matches": table,
        "same_matter_scores": summary(pos_scores) if pos_scores else {},
        "clusters": cluster_table,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threshold", type=float, default=0.35)
    ap.add_argument("--cluster-threshold", type=float, default=0.4)
    ap.add_argument("--heavy-df", type=int, default=128, help="SimilarityIndex(heavy_df=...)")
    ap.add_argument(
        "--sizes",
        type=lambda s: tuple(int(n) for n in s.split(",")),
        default=(2,),
        help="SimilarityIndex(sizes=...), e.g. 2,3",
    )
    ap.add_argument("--quality", action="store_true", help="also measure match quality")
    ap.add_argument("--samples", type=int, default=300, help="queries per quality group")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = ap.parse_args()

    speed = calibrate()
    print(f"CPU speed check: {speed} ms for a fixed Python loop (lower is faster)")
    gen = Generator(args.seed)
    everything = gen.year(args.docs + args.queries)
    corpus, fresh = everything[: args.docs], everything[args.docs :]
    lengths = sorted(len(i.doc.text) for i in corpus)
    print(
        f"corpus: {len(corpus)} docs, text length p5/p50/p95 {pct(lengths, 5)}/"
        f"{pct(lengths, 50)}/{pct(lengths, 95)} chars; {len(fresh)} new texts as queries"
    )
    result = {"cpu_speed_ms": speed, "docs": len(corpus), "timings": timings(args, corpus, fresh)}
    if args.quality:
        result["quality"] = quality(corpus, args.samples, args.seed, args.sizes)
    result["cpu_speed_ms_after"] = calibrate()
    if args.output:
        args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
