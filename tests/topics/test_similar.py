from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from server.topics.similar import Cluster, Doc, Match, SimilarityIndex, clusters, ngrams

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

# Local matters, one each, written as residents write: they share the everyday words
# (社区, 小区, 希望, 问题...) and mostly end with the same stock sentence.
PLACES = [
    "幸福里小区",
    "书香苑",
    "丽景花园",
    "河畔新村",
    "锦绣家园",
    "东湖名都",
    "桃源公寓",
    "翠湖嘉园",
]
ISSUES = [
    "楼道灯坏了好几个月，晚上上下楼看不清",
    "垃圾桶太少，垃圾经常满出来，天热气味难闻",
    "地下车库漏水，下雨天积水到脚踝",
    "电梯经常停运，老人上下楼很困难",
    "健身器材生锈松动，孩子玩耍有危险",
    "绿化带没人修剪，树枝挡住路口视线",
    "快递柜不够用，包裹堆在门卫室经常丢",
    "外墙瓷砖脱落，砸坏了楼下的车",
    "下水道堵塞，污水倒灌进一楼住户家",
    "电动车在楼道里充电，存在火灾隐患",
    "物业费上涨却没有公示收支明细",
    "门禁坏了，外来人员随意进出",
    "楼上住户装修噪音大，周末一早就开始敲打",
    "有人在公共绿地种菜，还泼洒粪水",
    "消防通道被私家车长期占用",
    "自来水发黄，烧开后有沉淀",
    "广场舞音响太响，晚上九点以后还在跳",
    "流浪狗越来越多，晚上追着人叫",
    "屋顶防水层老化，顶楼住户家里漏雨",
    "路面井盖松动，车开过去哐当响",
    "二次供水水箱多年没有清洗",
    "大门口的减速带被撞坏了",
    "儿童游乐设施的滑梯开裂",
    "业委会换届选举迟迟没有进行",
    "楼下饭店油烟直排，熏得没法开窗",
    "高空抛物时有发生，楼下行人很危险",
    "地面停车收费标准不合理",
    "化粪池满溢，臭味飘到楼道里",
    "公共区域的监控摄像头坏了很久",
    "晾衣架被物业拆除，没地方晒被子",
    "单元门的闭门器坏了，门一直关不上",
    "车棚里的废旧自行车没人清理",
    "冬天暖气不热，室温只有十几度",
    "雨水管断裂，雨天外墙一直渗水",
    "燃气管道老化，闻到有煤气味",
    "有住户在楼顶私搭乱建",
    "老旧楼没有无障碍坡道，轮椅进不去",
    "门卫室晚上没人值班",
    "路灯线路老化，一下雨就跳闸",
    "宠物粪便到处都是，没人清理",
    "楼道里堆满纸箱杂物",
    "信报箱锈坏了，信件经常丢失",
    "业主群里发广告的太多",
    "空调外机滴水，滴在楼下阳台上",
    "围墙倒塌了一段",
    "周边工地的渣土车掉落泥土",
    "居民议事会很久没有召开",
    "树上的马蜂窝没人处理",
]
STOCK = [
    "希望社区尽快解决这个问题。",
    "希望社区尽快解决这个问题。",
    "希望社区尽快解决这个问题。",
    "居民反映多次，一直没有解决，希望有关部门重视。",
]


def background() -> list[str]:
    return [f"{ISSUES[i]}\n{PLACES[i % 8]}{ISSUES[i]}。{STOCK[i % 4]}" for i in range(len(ISSUES))]


def doc(topic_id: int, room_id: int, text: str, days: float = 0.0) -> Doc:
    return Doc(topic_id, room_id, T0 + timedelta(days=days), text)


def city(extra: Sequence[Doc] = ()) -> SimilarityIndex:
    """Background topics 1000+ from rooms 100+, then `extra`."""
    docs = [doc(1000 + i, 100 + i % 40, text) for i, text in enumerate(background())]
    return SimilarityIndex([*docs, *extra])


def reference(
    docs: dict[int, str],
    query: str,
    *,
    max_df: float = 0.05,
    min_stop_df: int = 20,
    sizes: tuple[int, ...] = (2,),
) -> dict[int, float]:
    """Every document's score with `query`, from scratch: the module's definition."""
    grams = {tid: ngrams(text, sizes) for tid, text in docs.items()}
    n = len(docs)
    df = Counter(g for counts in grams.values() for g in counts)
    stop = max(max_df * n, min_stop_df)

    def vector(counts: Counter[str]) -> dict[str, float]:
        return {
            g: (1 + math.log(c)) * (1 + math.log((n + 1) / (df[g] + 1))) for g, c in counts.items()
        }

    q = vector(ngrams(query, sizes))
    qn = math.sqrt(sum(w * w for w in q.values()))
    scores = {}
    for tid, counts in grams.items():
        d = vector(counts)
        dn = math.sqrt(sum(w * w for w in d.values()))
        dot = sum(w * d[g] for g, w in q.items() if g in d and df[g] <= stop)
        scores[tid] = dot / (qn * dn) if qn and dn else 0.0
    return scores


# --- matches --------------------------------------------------------------------------------


BUS = "12路公交车班次太少\n幸福里小区门口的12路公交车班次太少，早高峰要等半个小时，上班经常迟到。"
BUS_PARAPHRASE = (
    "十二路公交车班次太少\n早上在书香苑站等12路公交车要半个小时，上班都迟到了，希望增加班次。"
)
BUS_IN_OTHER_WORDS = "12路公交车等车时间太长\n每天早高峰坐12路公交车上班，一等就是半个小时。"
SCHOOL = "实验小学门口放学时拥堵\n实验小学门口每天放学时家长车辆乱停，把路堵死，孩子过马路很危险。"
SCHOOL_PARAPHRASE = (
    "实验小学放学接送车辆乱停\n每天放学实验小学门口接孩子的车辆乱停乱放，孩子过马路太危险了。"
)


def test_paraphrases_from_other_rooms_score_above_the_threshold() -> None:
    index = city([doc(1, 1, BUS), doc(2, 1, SCHOOL)])

    bus = index.similar(BUS_PARAPHRASE)
    other_words = index.similar(BUS_IN_OTHER_WORDS)
    school = index.similar(SCHOOL_PARAPHRASE)

    assert [m.topic_id for m in bus] == [1]
    assert bus[0].score >= 0.35
    assert bus[0].shared[0] == "12路公交车班次太少"  # 十二路 read as 12路
    assert [m.topic_id for m in other_words] == [1]
    assert "12路公交车" in other_words[0].shared
    assert [m.topic_id for m in school] == [2]
    assert school[0].score >= 0.35
    assert any("实验小学" in s for s in school[0].shared)


def test_different_matters_sharing_everyday_words_score_below_the_threshold() -> None:
    lamp = "楼道灯坏了\n书香苑楼道灯坏了好几个月，晚上上下楼看不清。希望社区尽快解决这个问题。"
    index = city([doc(1, 1, lamp)])
    other = "垃圾清运不及时\n丽景花园的垃圾好几天没人清运，希望社区尽快解决这个问题。"

    scores = reference({1: lamp, **dict(enumerate(background(), start=1000))}, other)

    assert index.similar(other, threshold=0.35) == []
    assert scores[1] < 0.2  # the shared boilerplate is nearly all stop-grams
    # without the stop-gram rule the boilerplate alone would make it look close
    assert reference({1: lamp}, other, max_df=1.0, min_stop_df=10**9)[1] > 0.2


def test_an_exact_duplicate_scores_about_one_and_ties_go_to_the_lower_id() -> None:
    index = city([doc(7, 1, BUS), doc(3, 2, BUS)])

    found = index.similar(BUS)

    assert [m.topic_id for m in found] == [3, 7]
    assert found[0].score == found[1].score
    # stop-grams count in the length but not as evidence, so a copy is a hair under 1
    assert 0.98 <= found[0].score <= 1.0


def test_exclude_leaves_out_the_given_topics() -> None:
    index = city([doc(1, 1, BUS), doc(2, 2, BUS_PARAPHRASE)])

    assert [m.topic_id for m in index.similar(BUS)] == [1, 2]
    assert [m.topic_id for m in index.similar(BUS, exclude={1})] == [2]
    assert index.similar(BUS, exclude=frozenset({1, 2})) == []


def test_removed_topics_are_never_returned() -> None:
    index = city([doc(1, 1, BUS), doc(2, 2, BUS_PARAPHRASE)])
    before = len(index)

    assert index.remove(1) is True
    assert index.remove(1) is False
    assert 1 not in index and len(index) == before - 1
    assert [m.topic_id for m in index.similar(BUS, threshold=0.01, limit=1000)][:1] == [2]
    assert 1 not in {m.topic_id for m in index.similar(BUS, threshold=0.01, limit=1000)}

    index.add(doc(1, 1, BUS))
    assert [m.topic_id for m in index.similar(BUS)][:1] == [1]


def test_adding_a_topic_id_again_replaces_its_text() -> None:
    index = city([doc(1, 1, BUS)])
    index.add(doc(1, 1, SCHOOL))

    assert index.similar(BUS) == []
    assert [m.topic_id for m in index.similar(SCHOOL)] == [1]


def test_a_gram_that_becomes_common_stops_driving_matches() -> None:
    a = "加装电梯\n加装电梯"
    b = "加装电梯"
    index = SimilarityIndex([doc(1, 1, a)], min_stop_df=5)
    texts = {1: a}

    first = index.similar(b, threshold=0.01)
    # "加装电梯" becomes everyone's word: in 30 of 31 topics
    for i in range(30):
        text = f"{PLACES[i % 8]}加装电梯的事，{ISSUES[i]}"
        index.add(doc(100 + i, 10 + i, text))
        texts[100 + i] = text
    later = index.similar(b, threshold=0.01, limit=100)
    expected = reference(texts, b, min_stop_df=5)
    for i in range(30):
        index.remove(100 + i)
    again = index.similar(b, threshold=0.01)

    assert [m.topic_id for m in first] == [1] and first[0].score > 0.5
    assert all(m.topic_id != 1 for m in later)
    assert expected[1] == 0.0  # every gram they share is now a stop-gram
    assert [m.topic_id for m in again] == [1]
    assert again[0].score == pytest.approx(first[0].score, abs=1e-12)


@pytest.mark.parametrize(
    ("heavy_df", "sizes"),
    [(1, (2,)), (3, (2,)), (8, (2,)), (10_000, (2,)), (3, (2, 3)), (5, (1, 2))],
)
def test_scores_equal_a_from_scratch_computation_through_adds_and_removes(
    heavy_df: int, sizes: tuple[int, ...]
) -> None:
    """The kept lengths and bounds never change a score, however df moves."""
    rng = random.Random(heavy_df)
    pool = [*background(), BUS, BUS_PARAPHRASE, SCHOOL, SCHOOL_PARAPHRASE]
    index = SimilarityIndex(sizes=sizes, min_stop_df=12, heavy_df=heavy_df)
    texts: dict[int, str] = {}
    queries = [BUS, SCHOOL_PARAPHRASE, pool[5], pool[40] + pool[41]]
    for step in range(160):
        if texts and rng.random() < 0.3:
            tid = rng.choice(sorted(texts))
            index.remove(tid)
            del texts[tid]
        else:
            tid = rng.randrange(1, 400)
            text = rng.choice(pool) + rng.choice(["", "。", STOCK[step % 4], pool[step % 50]])
            index.add(doc(tid, tid % 7, text))
            texts[tid] = text
        if step % 8 == 0:
            query = queries[step // 8 % len(queries)]
            scores = reference(texts, query, min_stop_df=12, sizes=sizes)
            want = sorted((-s, tid) for tid, s in scores.items() if s >= 0.1)
            got = index.similar(query, threshold=0.1, limit=5)
            assert [m.topic_id for m in got] == [tid for _, tid in want[:5]]
            for m in got:
                assert m.score == pytest.approx(scores[m.topic_id], abs=1e-9)
            # a threshold right at a score: the bounds that prune must never cut it
            for neg, _ in want[:12]:
                edge = -neg - 1e-9
                at_edge = index.similar(query, threshold=edge, limit=1000)
                assert {m.topic_id for m in at_edge} == {t for t, s in scores.items() if s >= edge}


@pytest.mark.parametrize("heavy_df", [2, 128])
def test_a_topic_scored_before_its_grams_grew_common_is_scored_exactly_after(
    heavy_df: int,
) -> None:
    """A kept length is stale once its grams' df grow; bounds built on it must allow that."""
    texts = {**dict(enumerate(background(), start=1000)), 1: BUS}
    index = SimilarityIndex((doc(t, t % 9, x) for t, x in texts.items()), heavy_df=heavy_df)
    assert [m.topic_id for m in index.similar(BUS_PARAPHRASE)] == [1]
    for i in range(12):  # the route's words become common, so they weigh less
        texts[2000 + i] = f"12路公交车班次太少{ISSUES[i]}"
        index.add(doc(2000 + i, 50 + i, texts[2000 + i]))

    score = reference(texts, BUS_PARAPHRASE)[1]
    found = index.similar(BUS_PARAPHRASE, threshold=score - 1e-9, limit=100)

    assert 1 in {m.topic_id for m in found}
    assert next(m.score for m in found if m.topic_id == 1) == pytest.approx(score, abs=1e-9)


def test_limit_keeps_the_best() -> None:
    index = city([doc(i, i, BUS + "。" * i + ISSUES[i]) for i in range(1, 8)])

    every = index.similar(BUS, limit=100)
    top = index.similar(BUS, limit=3)

    assert len(every) == 7
    assert top == every[:3]
    assert [m.score for m in every] == sorted((m.score for m in every), reverse=True)


# --- text -----------------------------------------------------------------------------------


def test_text_is_folded_before_it_is_cut() -> None:
    assert ngrams("三号楼") == ngrams("3号楼") == ngrams("３号楼")
    assert ngrams("十二路公交") == ngrams("12路公交") == ngrams("１２路公交")
    assert ngrams("ＷｉＦｉ信号") == ngrams("wifi信号")
    assert "12路" not in ngrams("112路公交")  # a number is one unit
    assert ngrams("一下雨就积水")["一下"] == 1  # a numeral that is a word stays a word
    assert ngrams("电话13800138000") == ngrams("电话")  # phone numbers are not evidence
    assert set(ngrams("路灯，不亮")) == {"路灯", "不亮"}  # never across punctuation


@pytest.mark.parametrize(
    "text", ["", "   ", "，。！？……——", "a", "灯", "x" * 10_000, ("路灯不亮，" * 2000)[:10_000]]
)
def test_odd_texts_are_handled(text: str) -> None:
    index = city([doc(1, 1, text), doc(2, 2, BUS)])

    found = index.similar(text, limit=5)

    assert all(isinstance(m, Match) and 0.0 < m.score <= 1.0 for m in found)
    assert index.remove(1) is True
    assert index.similar(text, exclude={2}) == []


def test_results_do_not_depend_on_the_order_topics_were_indexed() -> None:
    docs = [*scenario(), doc(1, 1, BUS), doc(2, 2, BUS_PARAPHRASE), doc(3, 3, BUS_IN_OTHER_WORDS)]
    forward = SimilarityIndex(docs)
    backward = SimilarityIndex(reversed(docs))
    window = {"threshold": 0.3, "since": T0, "until": T0 + timedelta(days=60)}

    for query in (BUS, FACTORY[0], MARKET[2], background()[7]):
        ahead = forward.similar(query, threshold=0.05, limit=50)
        behind = backward.similar(query, threshold=0.05, limit=50)
        assert [(m.topic_id, m.shared) for m in ahead] == [(m.topic_id, m.shared) for m in behind]
        assert [m.score for m in ahead] == pytest.approx([m.score for m in behind], abs=1e-9)
    assert clusters(forward, **window) == clusters(backward, **window)


def test_index_settings_outside_their_ranges_are_refused() -> None:
    for bad in ({"sizes": ()}, {"sizes": (5,)}, {"max_df": 0.0}, {"max_df": 1.5}, {"heavy_df": 0}):
        with pytest.raises(ValueError, match="need"):
            SimilarityIndex(**bad)  # type: ignore[arg-type]


def test_thresholds_outside_zero_to_one_are_refused() -> None:
    index = city()
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            index.similar(BUS, threshold=bad)
        with pytest.raises(ValueError, match="threshold"):
            clusters(index, threshold=bad, since=T0, until=T0)


# --- clusters -------------------------------------------------------------------------------

FACTORY = [  # one matter: the chemical plant's fumes, in six residents' words
    "红星化工厂晚上排放废气\n红星化工厂晚上偷偷排放废气，刺鼻的气味飘进小区，窗户都不敢开。",
    "红星化工厂废气扰民\n最近半个月红星化工厂一到晚上就排放废气，气味刺鼻，夜里特别明显。",
    "要求查处红星化工厂排放废气\n红星化工厂经常半夜排放废气，空气里全是刺鼻的化学品味道。",
    "红星化工厂气味刺鼻\n红星化工厂的废气一刮风就飘过来，气味刺鼻，晾的衣服都是味。",
    "红星化工厂废气污染\n附近居民都说红星化工厂晚上排放的废气味道很大，闻久了头晕。",
    "投诉红星化工厂夜间排放废气\n红星化工厂夜里排放废气，气味刺鼻，老人孩子咳嗽，请环保部门查一查。",
]
MARKET = [  # one matter, but raised in two rooms only
    "运河农贸市场搬迁后买菜难\n运河农贸市场搬走以后附近没有买菜的地方了。",
    "希望恢复运河农贸市场\n运河农贸市场关了以后居民买菜很不方便。",
    "运河农贸市场关闭影响生活\n自从运河农贸市场拆了，老人买菜要走很远。",
    "运河农贸市场搬得太远\n运河农贸市场搬到新地方太远了，没有公交直达。",
    "运河农贸市场不开了\n原来的运河农贸市场不开了，现在买菜只能去超市。",
]
WORKS = [  # one matter, mostly before the window
    "长江路改造工程夜间施工噪音大\n长江路改造工程每天晚上十一点以后还在施工，吵得睡不着。",
    "长江路改造工程施工扰民\n长江路改造工程夜里打桩，噪音特别大，孩子休息不好。",
    "长江路改造工程半夜施工\n长江路改造工程半夜还在开挖路面，渣土车来回跑。",
    "投诉长江路改造工程噪音\n长江路改造工程施工不分白天黑夜，噪音和扬尘都很大。",
    "长江路改造工程晚上太吵\n长江路改造工程晚上施工的声音太吵了，一整夜没法休息。",
    "长江路改造工程噪音扰民\n长江路改造工程晚上机器轰鸣，老人心脏不好受不了。",
    "长江路改造工程夜间打桩\n长江路改造工程夜间打桩声音太大，希望限制施工时间。",
]


def scenario() -> list[Doc]:
    """Window: days 30–60. In it: the factory (6 topics, 4 rooms; a 7th comes later), the
    market (5 topics, 2 rooms), the last 4 of the works (3 rooms; 3 more before the
    window), and noise."""
    docs = [doc(1000 + i, 100 + i % 40, text, days=i % 60) for i, text in enumerate(background())]
    docs += [doc(10 + i, [1, 2, 3, 4, 1, 2][i], t, days=40 + i) for i, t in enumerate(FACTORY)]
    docs.append(doc(16, 9, FACTORY[1], days=75))  # after every window below
    docs += [doc(20 + i, [5, 6, 5, 6, 5][i], t, days=35 + i) for i, t in enumerate(MARKET)]
    docs += [
        doc(30 + i, [7, 8, 9, 7, 8, 9, 7][i], t, days=[5, 10, 20, 31, 33, 45, 50][i])
        for i, t in enumerate(WORKS)
    ]
    return docs


def test_clusters_need_enough_topics_from_enough_rooms_inside_the_window() -> None:
    index = SimilarityIndex(scenario())

    found = clusters(
        index, threshold=0.3, since=T0 + timedelta(days=30), until=T0 + timedelta(days=60)
    )

    assert found == [
        Cluster(
            topic_ids=(10, 11, 12, 13, 14, 15),
            room_ids=(1, 2, 3, 4),
            top_terms=found[0].top_terms,
            first_at=T0 + timedelta(days=40),
            last_at=T0 + timedelta(days=45),
        )
    ]
    assert found[0].top_terms[0] == "红星化工厂"
    assert all(
        "红星" in t or "排放" in t or "气味" in t or "臭味" in t for t in found[0].top_terms[:3]
    )


def test_clusters_count_only_the_window_and_lower_thresholds_admit_more() -> None:
    index = SimilarityIndex(scenario())
    window = {"since": T0, "until": T0 + timedelta(days=60)}

    everything = clusters(index, threshold=0.3, **window)
    two_rooms = clusters(index, threshold=0.3, min_rooms=2, **window)
    late_works = clusters(
        index,
        threshold=0.3,
        min_topics=4,
        since=T0 + timedelta(days=30),
        until=T0 + timedelta(days=60),
    )

    assert [c.topic_ids for c in everything] == [tuple(range(30, 37)), tuple(range(10, 16))]
    assert everything[0].room_ids == (7, 8, 9)
    assert everything[0].top_terms[0] == "长江路改造工程"
    assert [c.topic_ids for c in two_rooms] == [
        tuple(range(30, 37)),
        tuple(range(10, 16)),
        tuple(range(20, 25)),
    ]
    assert [c.topic_ids for c in late_works] == [tuple(range(10, 16)), (33, 34, 35, 36)]


def test_clusters_from_documents_equal_clusters_from_an_index() -> None:
    docs = scenario()
    index = SimilarityIndex(docs)
    window = {"since": T0, "until": T0 + timedelta(days=60), "threshold": 0.3}

    assert clusters(docs, **window) == clusters(index, **window)
    assert clusters(docs, min_topics=100, **window) == []


def test_shared_phrases_are_trimmed_of_particles_and_long_runs() -> None:
    from server.topics.similar import LONGEST_PHRASE, _tidy

    assert _tidy("的智能快递柜") == "智能快递柜"
    assert _tidy("快递柜了") == "快递柜"
    long = "包裹放在智能快递柜超过十二个小时就收费"
    assert _tidy(long) == long[:LONGEST_PHRASE] + "…"
