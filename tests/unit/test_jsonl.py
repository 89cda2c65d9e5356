import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import JsonlAppender, read_jsonl, write_jsonl_atomic


@pytest.mark.timeout(10)
def test_corrupt_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n{"id": 3, oops\n{"id": 4}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:3: not valid JSON"):
        read_jsonl(path)


@pytest.mark.timeout(10)
def test_non_object_line_is_rejected(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=":2: expected a JSON object"):
        read_jsonl(path)


@pytest.mark.timeout(10)
def test_appender_drops_a_record_torn_by_a_kill(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n{"id": 3, "gen')
    with JsonlAppender(path) as out:
        out.append({"id": 3})
    assert [r["id"] for r in read_jsonl(path)] == [1, 2, 3]


@pytest.mark.timeout(10)
def test_atomic_rewrite_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "x.jsonl"
    write_jsonl_atomic(path, [{"id": i} for i in range(3)])
    assert [r["id"] for r in read_jsonl(path)] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]
