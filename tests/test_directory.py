"""The community services directory: data, lookups, free-text questions, buttons, locations."""
from __future__ import annotations

import random

from core.areas import AreaPath, PlaceArea
from knowledge.directory import Directory, ServicePoint, distance_km
from tests.conftest import button, joined, location, payloads, text


def test_seed_directory_holds_only_what_the_sources_name(kb):
    d = kb.directory
    assert set(d.types) >= {"elderly_care", "leifeng_store", "culture_sports", "minors",
                            "property", "volunteer_station", "marriage_registry",
                            "service_station"}
    assert len(d.points) == 5 and all(p.historical for p in d.points.values())
    # operator fields are empty: nothing invented
    assert not any(p.address or p.hours or p.phone or p.lat for p in d.points.values())
    assert [t.id for t in d.teams.values()] == ["chigang-yigong"]


def test_type_detection_and_team_search(dkb):
    d = dkb.directory
    assert d.detect_type("附近有没有养老服务").id == "elderly_care"
    assert d.detect_type("雷锋超市在哪").id == "leifeng_store"
    assert d.detect_type("kids activities near me").id in ("minors", "culture_sports")
    assert d.detect_type("结婚要带什么") is None
    assert {t.id for t in d.search_teams("雨花区")} >= {"hongxing-elderly", "gaoqiao-kids"}
    assert [t.id for t in d.search_teams("望月湖")] == ["wyh-culture"]
    assert d.search_teams("完全无关的词") == []


def test_nearest_matches_a_full_haversine_scan(dkb):
    rng = random.Random(7)
    points = [ServicePoint(f"p{i}", f"点{i}", "", "elderly_care" if i % 3 else "minors",
                           district="yuelu", lat=rng.uniform(27.9, 28.6),
                           lon=rng.uniform(112.5, 113.5)) for i in range(5000)]
    d = Directory(list(dkb.directory.types.values()), points, [], dkb.gazetteer)
    for _ in range(50):
        lat, lon = rng.uniform(28.0, 28.5), rng.uniform(112.7, 113.3)
        got = d.nearest(lat, lon, limit=5, max_km=50)
        want = sorted(((p, distance_km(lat, lon, p.lat, p.lon)) for p in points),
                      key=lambda pk: pk[1])[:5]
        assert [p.id for p, _ in got] == [p.id for p, _ in want]
        typed = d.nearest(lat, lon, limit=3, max_km=50, type_id="minors")
        assert all(p.type == "minors" for p, _ in typed) and len(typed) == 3
    far = d.nearest(20.0, 100.0, max_km=30)  # nothing within 30 km of a point far away
    assert far == []
    assert abs(distance_km(28.0, 113.0, 28.0, 113.0)) < 1e-9
    assert 110 < distance_km(28.0, 113.0, 29.0, 113.0) < 112


def test_cadre_area_coverage_never_guesses_unknown_parts():
    team = PlaceArea("长沙市", "雨花区", None, "红星村")
    assert AreaPath.parse("长沙市").covers(team)
    assert AreaPath.parse("长沙市/雨花区").covers(team)
    assert not AreaPath.parse("长沙市/岳麓区").covers(team)
    assert not AreaPath.parse("长沙市/雨花区/某街道").covers(team)  # street not recorded
    assert AreaPath.parse("长沙市/雨花区/某街道/红星村").covers(team)
    assert not AreaPath.parse("长沙市/岳麓区/某街道/红星村").covers(team)
    unknown_district = PlaceArea("长沙市", None, None, "赤岗社区")
    assert AreaPath.parse("长沙市").covers(unknown_district)
    assert not AreaPath.parse("长沙市/雨花区").covers(unknown_district)
    assert not AreaPath.parse("长沙市/雨花区/x/赤岗社区").covers(unknown_district)
    with_street = PlaceArea("长沙市", "岳麓区", "望月湖街道", "望月湖社区")
    assert AreaPath.parse("长沙市/岳麓区/望月湖街道").covers(with_street)
    assert not AreaPath.parse("长沙市/岳麓区/别的街道/望月湖社区").covers(with_street)


async def test_free_text_lists_a_communitys_services(assistant):
    r = await assistant.handle(text("d1", "杨家山社区有什么活动"))
    body = joined(r)
    assert "红歌晚会" in body and "12345" in body
    assert "2006" in body  # historical, and says so
    r = await assistant.handle(text("d1", "赤岗社区有什么服务"))
    assert "义工俱乐部" in joined(r) and "vj:chigang-yigong" in payloads(r)


async def test_free_text_type_and_district(dassistant):
    r = await dassistant.handle(text("d2", "雨花区有什么养老服务"))
    body = joined(r)
    assert "测试养老服务站一" in body and "测试地址1" in body
    assert "测试养老服务站二" not in body  # that one is in 岳麓区
    r = await dassistant.handle(text("d2", "雨花区婚姻登记处在哪"))  # the marriage entry answers
    assert "婚姻登记" in joined(r) and "测试" not in joined(r)


async def test_nearby_question_asks_for_a_location_then_answers(dassistant):
    a = dassistant
    r = await a.handle(text("d3", "附近有没有养老服务"))
    assert r[0].ask == "location" and any(p.startswith("sd:") for p in payloads(r))
    r = await a.handle(location("d3", 28.2005, 112.9405))  # next to the 岳麓区 points
    body = r[0].text
    assert r[0].clear_keyboard
    assert "测试养老服务站二" in body and ("km" in body or "公里" in body)
    assert "测试文体中心" not in body  # asked for elderly care only
    r = await a.handle(location("d3", 28.2001, 112.9401))  # no question pending: any type
    assert "测试文体中心" in r[0].text and "测试养老服务站二" in r[0].text
    first = r[0].text.index("测试养老服务站二")
    assert first < r[0].text.index("测试文体中心")  # nearest first
    r = await a.handle(location("d3", 39.9, 116.4))  # Beijing
    assert "outside" in r[0].text or "长沙以外" in r[0].text or "不在长沙" in r[0].text


async def test_location_without_coordinates_says_so_honestly(assistant):
    r = await assistant.handle(location("d4", 28.19, 112.98))
    assert r[0].clear_keyboard and ("coordinates" in r[0].text or "坐标" in r[0].text)
    assert any(p.startswith("sd:") for p in payloads(r))


async def test_browse_by_buttons(dassistant):
    a = dassistant
    r = await a.handle(button("d5", "m:community"))
    assert "sv:" in payloads(r) and "sn:" in payloads(r)
    r = await a.handle(button("d5", "sv:"))
    assert "sd:yuhua" in payloads(r) and "sd:_" in payloads(r)
    r = await a.handle(button("d5", "sd:yuhua"))
    assert "sc:hongxing" in payloads(r) and "sl:yuhua" in payloads(r)
    r = await a.handle(button("d5", "sc:hongxing"))
    body = joined(r)
    assert "测试养老服务站一" in body and "测试雷锋超市" in body
    assert "vj:hongxing-elderly" in payloads(r)
    r = await a.handle(button("d5", "sd:_"))
    assert "sc:yangjiashan" in payloads(r)
    for forged in ("sd:../x", "sc:yuhua", "sl:hongxing", "sc:" + "x" * 60):
        r = await a.handle(button("d5", forged))
        assert "sv:" not in payloads(r) or r[0].text, forged
        assert "测试" not in joined(r)


async def test_operator_data_is_layered_over_the_shipped_knowledge(settings, clock, tmp_path):
    """Registry details in BOT_DATA_DIR/registries.yaml reach the answer; the checkout's
    knowledge files stay as shipped."""
    from app import open_assistant  # noqa: PLC0415 - the shipped knowledge, this test only
    from core.messages import Incoming, User  # noqa: PLC0415

    data = settings.bot_data_dir
    data.mkdir(parents=True, exist_ok=True)
    (data / "registries.yaml").write_text(
        'registries:\n  yuelu: {address: "麓山路某号", phone: "0731-00000000"}\n',
        encoding="utf-8")
    async with open_assistant(settings, clock) as a:
        (r, *_rest) = await a.handle(Incoming(User("console", "u", "zh-hans"), "u",
                                              text="岳麓区婚姻登记处在哪"))
    assert "麓山路某号" in r.text and "0731-00000000" in r.text
    assert "暂未收录" not in r.text  # only what is missing is to be confirmed


async def test_service_answers_are_one_message(settings, clock):
    from app import open_assistant  # noqa: PLC0415 - the shipped knowledge, this test only
    from core.messages import Incoming, User  # noqa: PLC0415

    async with open_assistant(settings, clock) as a:
        for q in ("马王街社区老年人服务", "雨花区有什么养老服务"):
            r = await a.handle(Incoming(User("console", "u", "zh-hans"), "u", text=q))
            assert len(r) == 1 and r[0].buttons, q
