"""More files as admins really bring them, for the share of questions imported right (test_import_share).

Written the way such files are written, not to suit the importer: a 党章党规 workbook made for a
knowledge contest (序号/题型/题干/选项A–D/答案/解析/难度 on a sheet after the instructions), a CSV
exported by another exam system (its own headers, all options in one 选项 cell, GBK), an Aiken file
typed by a colleague (full-width punctuation, numbered stems, CRLF) and a GIFT file exported from
Moodle and tidied by hand (categories, feedback, a missing-word question, an essay and a numerical).
Each comes with what a careful reader finds in it.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from tests.exams.test_import_real_sheets import as_bytes

ADMINS = Path(__file__).parent / "fixtures" / "admins"
SKIP = "skip"


def party_rules_workbook() -> bytes:
    """A 党章党规 contest bank: an instructions sheet, a merged title, 序号 and 难度 (易/中/难) columns."""
    workbook = Workbook()
    notes = workbook.active
    notes.title = "填写说明"
    for line in (
        "1. 题型只能填写：单选、多选、判断。",
        "2. 答案填写选项字母，多选题字母连写，如ABD；判断题填写“正确”或“错误”。",
        "3. 请勿修改表头，请勿合并单元格。",
    ):
        notes.append([line])
    sheet = workbook.create_sheet("题库")
    sheet.append(["2024年“学党章 守党规”知识竞赛题库"])
    sheet.merge_cells("A1:J1")
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(["序号", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "难度"])
    rows = [
        ["单选", "党章规定，党的最高领导机关是（    ）。", "党的全国代表大会和它所产生的中央委员会",
         "中央政治局", "中央政治局常务委员会", "中央书记处", "A", "见党章第十条。", "易"],
        ["单选", "党员的权利中，在党的会议上有根据地批评党的任何组织和任何党员，向党负责地揭发、检举党的任何组织和"
         "任何党员违法乱纪的事实，要求处分违法乱纪的党员，要求罢免或撤换不称职的干部，属于（    ）。",
         "知情权", "参与权", "监督权", "表决权", "C", "", "中"],
        ["单选", "党的纪律主要包括政治纪律、组织纪律、廉洁纪律、群众纪律、（    ）和生活纪律。", "工作纪律",
         "财经纪律", "宣传纪律", "保密纪律", "A", "六项纪律。", "易"],
        ["单选", "《中国共产党纪律处分条例》规定，党纪处分分为（    ）种。", "3", "4", "5", "6", "c", "", "中"],
        ["单选", "党组织对违犯党的纪律的党员，应当本着（    ）的精神，按照错误性质和情节轻重，给以批评教育、"
         "责令检查、诫勉直至纪律处分。", "惩前毖后、治病救人", "实事求是", "从严治党", "宽严相济", "A", "", "难"],
        ["多选", "党的建设必须坚决实现以下几项基本要求（    ）。", "坚持党的基本路线",
         "坚持解放思想，实事求是，与时俱进，求真务实", "坚持全心全意为人民服务", "坚持民主集中制", "ABCD", "",
         "中"],
        ["多选", "党员必须履行的义务包括（    ）。", "认真学习马克思列宁主义、毛泽东思想",
         "贯彻执行党的基本路线和各项方针、政策", "坚持党和人民的利益高于一切", "对党的决议和政策如有不同意见，"
         "可以在党内外公开发表", "ABC", "D项错误：应在党的会议上提出。", "中"],
        ["多选", "党的思想路线是（    ）。", "一切从实际出发", "理论联系实际", "实事求是", "在实践中检验真理和发展真理",
         "A B C D", "", "易"],
        ["多选", "下列属于党的地方组织的有（    ）。", "省、自治区、直辖市的党的代表大会和委员会",
         "设区的市和自治州的党的代表大会和委员会", "县（旗）、自治县、不设区的市和市辖区的党的代表大会和委员会",
         "村党支部", "ABC", "", "难"],
        ["多选", "“四个意识”是指（    ）。", "政治意识", "大局意识", "核心意识", "看齐意识", "A、B、C、D", "", "易"],
        ["判断", "预备党员的预备期为一年。", "", "", "", "", "正确", "", "易"],
        ["判断", "党员有退党的自由。", "", "", "", "", "正确", "党章第九条。", "中"],
        ["判断", "预备党员享有表决权、选举权和被选举权。", "", "", "", "", "错误", "预备党员没有这三项权利。", "中"],
        ["判断", "党的全国代表大会每四年举行一次。", "", "", "", "", "错误", "每五年举行一次。", "易"],
        ["判断", "党员个人服从党的组织，少数服从多数，下级组织服从上级组织，全党各个组织和全体党员服从党的全国代表大会"
         "和中央委员会。", "", "", "", "", "正确", "", "中"],
        ["判断", "党支部委员会每届任期两年或三年。", "", "", "", "", "错", "每届任期三年至五年。", "难"],
        ["判断", "入党誓词中有“永不叛党”。", "", "", "", "", "对", "", "易"],
        ["单选", "党的组织生活会一般每年召开（    ）次。", "1", "2", "3", "4", "A ", "", "中"],
    ]  # fmt: skip
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *row])
    return as_bytes(workbook)


PARTY_RULES_EXPECTED = [
    ("single", {"choice": 0}),
    ("single", {"choice": 2}),
    ("single", {"choice": 0}),
    ("single", {"choice": 2}),
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1, 2, 3]}),
    ("multiple", {"choices": [0, 1, 2]}),
    ("multiple", {"choices": [0, 1, 2, 3]}),
    ("multiple", {"choices": [0, 1, 2]}),
    ("multiple", {"choices": [0, 1, 2, 3]}),
    ("true_false", {"value": True}),
    ("true_false", {"value": True}),
    ("true_false", {"value": False}),
    ("true_false", {"value": False}),
    ("true_false", {"value": True}),
    ("true_false", {"value": False}),
    ("true_false", {"value": True}),
    ("single", {"choice": 0}),
]


def exam_system_csv() -> bytes:
    """Exported by another exam system: its own headers, every option in one 选项 cell, GBK, CRLF."""
    header = "试题类型,试题内容,选项,正确答案,答案解析,分数,难易程度,所属知识点"
    lines = [
        header,
        '单选题,我国的国体是（ ）。,"A.人民民主专政|B.人民代表大会制度|C.民主集中制|D.多党合作制",A,,2,简单,宪法',
        '单选题,中国共产党的根本组织原则是（ ）。,"A.民主集中制|B.集体领导|C.少数服从多数|D.下级服从上级",A,,2,简单,'
        "党章",
        '多选题,新发展理念包括（ ）。,"A.创新|B.协调|C.绿色|D.开放|E.共享",ABCDE,,3,一般,二十大报告',
        '多选题,“五位一体”总体布局包括（ ）。,"A.经济建设|B.政治建设|C.文化建设|D.社会建设|E.生态文明建设|F.国防建设"'
        ",ABCDE,F不属于。,3,一般,二十大报告",
        '单选题,全面依法治国的总目标是建设（ ）。,"A.中国特色社会主义法治体系、建设社会主义法治国家|B.法治中国|'
        'C.法治政府|D.法治社会",A,,2,困难,法治',
        "判断题,宪法是国家的根本法。,,正确,,1,简单,宪法",
        "判断题,全国人民代表大会常务委员会是最高国家权力机关。,,错误,最高国家权力机关是全国人民代表大会。,1,一般,宪法",
        "填空题,党的二十大的主题是：高举中国特色社会主义伟大旗帜，全面贯彻新时代中国特色社会主义思想，弘扬（ ），"
        "自信自强、守正创新，踔厉奋发、勇毅前行。,,伟大建党精神,,2,一般,二十大报告",
        "填空题,中国共产党的宗旨是（ ），最高理想是（ ）。,,全心全意为人民服务；实现共产主义,,2,简单,党章",
        '多选题,"下列说法正确的是（ ）。",'
        '"A.党的性质决定党的宗旨|B.党的宗旨是全心全意为人民服务|C.党员可以有不受纪律约束的特权|D.党的纪律是刚性的"'
        ",ABD,,3,困难,党章",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


EXAM_SYSTEM_EXPECTED = [
    ("single", {"choice": 0}),
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1, 2, 3, 4]}),
    ("multiple", {"choices": [0, 1, 2, 3, 4]}),
    ("single", {"choice": 0}),
    ("true_false", {"value": True}),
    ("true_false", {"value": False}),
    (
        "fill",
        {"blanks": [["伟大建党精神"]]},
        "党的二十大的主题是：高举中国特色社会主义伟大旗帜，全面贯彻新时代中国特色"
        "社会主义思想，弘扬{{1}}，自信自强、守正创新，踔厉奋发、勇毅前行。",
    ),
    ("fill", {"blanks": [["全心全意为人民服务"], ["实现共产主义"]]}, "中国共产党的宗旨是{{1}}，最高理想是{{2}}。"),
    ("multiple", {"choices": [0, 1, 3]}),
]

AIKEN_EXPECTED = [("single", {"choice": "ABCD".index(letter)}) for letter in "ABBBABACBAAD"]

GIFT_EXPECTED = [
    ("single", {"choice": 0}),
    ("true_false", {"value": True}),
    ("fill", {"blanks": [["党指挥枪", "党对军队的绝对领导"]]}, "“三湾改编”确立了{{1}}的原则。"),
    ("multiple", {"choices": [0, 1, 2], "weights": [33.33333, 33.33333, 33.33333, -100.0]}),
    ("single", {"choice": 1}),
    ("true_false", {"value": True}),
    ("true_false", {"value": True}),
    (
        "fill",
        {"blanks": [["社会主义改造", "三大改造"]]},
        "1956年，我国基本完成了对农业、手工业和资本主义工商业的{{1}}。",
    ),
    SKIP,  # an essay
    SKIP,  # a numerical question
    ("single", {"choice": 0}),
    ("true_false", {"value": False}),
    ("true_false", {"value": True}),
    ("true_false", {"value": True}),
    ("single", {"choice": 0}),
]


def corpus() -> list[tuple[str, bytes, list]]:
    return [
        ("党章党规知识竞赛题库.xlsx", party_rules_workbook(), PARTY_RULES_EXPECTED),
        ("试题导出.csv", exam_system_csv(), EXAM_SYSTEM_EXPECTED),
        ("党章选择题.txt", (ADMINS / "party_rules.aiken.txt").read_bytes(), AIKEN_EXPECTED),
        ("党史题库.gift.txt", (ADMINS / "party_history.gift.txt").read_bytes(), GIFT_EXPECTED),
    ]
