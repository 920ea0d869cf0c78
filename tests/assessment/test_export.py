"""The streamed .xlsx writer: valid workbooks that openpyxl reads back, whatever the text."""

import io
import tracemalloc

from openpyxl import load_workbook

from lms.assessment.export import stream_xlsx


def read_back(data: bytes):
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return workbook.sheetnames, [list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]


def test_workbook_round_trips_text_numbers_and_awkward_characters():
    rows = [
        ["李明", 12.5, 3, "a < b & \"c\" 'd'"],
        ["控制\x01字符\x0b", 0.1, -2, "  两端空格  "],
        ["", None, True, "末"],
    ]
    names, sheets = read_back(b"".join(stream_xlsx([("党员/名单[1]", ["姓名", "学时", "次数", "备注"], rows)])))
    assert names == ["党员 名单 1"]
    header, first, second, third = sheets[0]
    assert header == ("姓名", "学时", "次数", "备注")
    assert first == ("李明", 12.5, 3, "a < b & \"c\" 'd'")
    assert second == ("控制字符", 0.1, -2, "  两端空格  ")
    assert third[2] == "True" and third[3] == "末"


def test_duplicate_and_long_sheet_titles_are_made_unique_within_31_characters():
    title = "很长的工作表名称" * 5
    names, _ = read_back(b"".join(stream_xlsx([(title, ["a"], [[1]]), (title, ["a"], [[2]])])))
    assert len(names) == 2 and len(set(names)) == 2 and all(len(name) <= 31 for name in names)


def test_a_large_export_streams_in_chunks_with_bounded_memory():
    def rows():
        for i in range(30_000):
            yield [f"党员{i:05d}", "第一党支部", i * 0.5, "合格"]

    tracemalloc.start()
    chunks = list(stream_xlsx([("Members", ["姓名", "支部", "学时", "等次"], rows())]))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data = b"".join(chunks)
    assert len(chunks) > 3  # bytes leave before the workbook is finished
    import zipfile

    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size
    assert peak < sheet_xml / 2  # the sheet's XML is never held whole
    _names, sheets = read_back(data)
    assert len(sheets[0]) == 30_001 and sheets[0][-1] == ("党员29999", "第一党支部", 14999.5, "合格")
