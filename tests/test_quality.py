"""Web quality rules: each named rule fires on the page it describes and spares real prose."""

import pytest

from pairmill.extractors.text.quality import QualitySettings, quality_issue

PROSE = ("The committee met on Tuesday to discuss the state of the water supply in the region. "
         "Members agreed that the reservoir levels had fallen below what is needed for summer, "
         "and they asked the engineers to prepare a plan with costs by the end of the month.\n"
         "Residents have been asked to limit their use of water for gardens until further notice. "
         "The council will publish updates on its website and in the local paper every week.\n"
         "A public meeting is planned for next month, where the engineers will present the plan "
         "and answer questions from residents about the work and its timetable.")

CASES = {
    "error_page": ("404 - Page not found", "Home\nProducts\nContact us\nAbout"),
    "placeholder_text": ("Our services", PROSE + "\nLorem ipsum dolor sit amet, consectetur."),
    "duplicate_lines": ("Results", "\n".join(["Winning numbers today 12 34 56 78."] * 6
                                            + [PROSE])),
    "repeated_ngrams": ("Deals", " ".join(["cheap pills"] * 80) + " and the rest of the text."),
    "symbol_ratio": ("Tags", "#one #two #three #four #five #six #seven #eight the end of it. and"),
    "few_stop_words": ("Specs", "Processor: quad core. Memory: eight gigabytes. Storage: "
                                "solid state drive. Display: fifteen inch screen. Weight: light."),
    "unpunctuated_lines": ("Menu", "\n".join(f"{w} is the {i}th part of that story and you have to read it"
                                             for i, w in enumerate(["Alpha", "Bravo", "Delta", "Echo",
                                                                    "Golf", "Hotel", "India", "Kilo"]))),
    "short_lines": ("Links", "\n".join(["Go to the home page.", "Read about us.", "Write to us.",
                                        "Careers at the company are listed on a separate page "
                                        "that we update with the news of the week."])),
}


def test_a_chinese_error_page_from_the_real_crawl_is_an_error_page():
    # The real Common Crawl sample's "sorry, the page address does not exist" page.
    title = "大有网上开户，抱歉，页面地址不存在 - 811tyc.com"
    assert quality_issue(title, "个人中心\n登录\n注册\n车型对比", QualitySettings()) == "error_page"


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_rule_names_the_page_it_describes(reason):
    title, text = CASES[reason]
    assert quality_issue(title, text, QualitySettings()) == reason


def test_prose_passes_and_thresholds_are_settings():
    assert quality_issue("Water supply", PROSE, QualitySettings()) is None
    title, text = CASES["duplicate_lines"]
    assert quality_issue(title, text, QualitySettings(max_duplicate_lines=0.99,
                                                      max_duplicate_line_chars=0.99)) is None


def test_rules_mean_the_same_in_chinese():
    prose = ("委员会周二开会讨论了该地区的供水状况。成员们一致认为水库水位已经低于夏季所需的水平，"
             "并要求工程师在月底前准备一份包含费用的计划。\n居民被要求在另行通知之前限制花园用水。"
             "市议会每周将在其网站和当地报纸上发布最新消息。\n下个月计划举行一次公开会议，"
             "工程师将在会上介绍该计划并回答居民的问题。")
    assert quality_issue("供水", prose, QualitySettings()) is None
    menu = "\n".join(["首页", "产品中心", "新闻动态", "联系我们", "关于我们", "在线留言"])
    assert quality_issue("公司", menu, QualitySettings()) in {"short_lines", "unpunctuated_lines"}
