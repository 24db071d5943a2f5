"""The web form decides each page from all stored answers (issue 15, points 1-4), no script.

Through the real app: a question conditioned on an earlier page shows when it should, a page
with nothing to show is skipped both ways, questions opened on a page are shown before moving
on when there is no script, messages name questions in the page's language, a returning
alumnus resumes where a required answer is missing, and a sent response has a summary.
"""

from __future__ import annotations

import html
import re

from services.survey.links import make_token


def link(app, survey, index: int = 0) -> str:
    return "/s/" + make_token(
        app.config["SECRET_KEY"], survey["wave_id"], survey["alumni"][index][0]
    )


def step_of(response) -> int:
    return int(re.search(r"step=(\d+)", response.headers["Location"]).group(1))


def answer(client, url: str, step: int, action: str = "next", **fields: str):
    return client.post(f"{url}?step={step}",
                       data={"step": str(step), "action": action, "script": "1", **fields})


def section_title(page: str) -> str:
    return re.search(r'<h2 class="section-title">([^<]+)</h2>', page).group(1)


def question_tag(page: str, key: str) -> str | None:
    found = re.search(rf'<div class="question[^"]*" id="q-{key}"[^>]*>', page)
    return found.group(0) if found else None


def test_the_certificate_question_follows_the_status_from_two_pages_back(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    employed, studying = link(survey_app, survey, 0), link(survey_app, survey, 1)
    for url, status in ((employed, "1"), (studying, "4")):
        answer(client, url, 1, consent="true")
        answer(client, url, 2, f8=status)
    # Employed: the last page draws the question hidden, left to decide by blk_cert only.
    last = client.get(f"{employed}?step=6").get_data(as_text=True)
    assert section_title(last) == "Pelatihan &amp; saran"
    tag = question_tag(last, "blk_cert_used")
    assert tag is not None and " hidden" in tag
    assert """data-if='{"key":"blk_cert","eq":1}'""" in html.unescape(tag)
    # ... and shows it (not hidden) once blk_cert = 1 is stored.
    answer(client, employed, 6, action="save", blk_cert="1")
    shown = question_tag(client.get(f"{employed}?step=6").get_data(as_text=True),
                         "blk_cert_used")
    assert shown is not None and "hidden" not in shown and "data-if" in shown
    # Studying: nothing on the page can make it apply, so it is not drawn at all.
    last = client.get(f"{studying}?step=5").get_data(as_text=True)
    assert section_title(last) == "Pelatihan &amp; saran"
    assert question_tag(last, "blk_cert_used") is None


def test_a_page_with_nothing_to_show_is_skipped_forward_and_back(survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    answer(client, url, 1, consent="true")
    onward = answer(client, url, 2, f8="4")  # studying: the work page has nothing for them
    page = client.get(onward.headers["Location"]).get_data(as_text=True)
    assert section_title(page) == "Pencarian kerja"
    assert "Bagian 3 dari 5" in page
    back = answer(client, url, step_of(onward), action="back")
    assert section_title(client.get(back.headers["Location"]).get_data(as_text=True)) \
        == "Status saat ini"
    # Changing the status to employed brings the work page back, right after status.
    onward = answer(client, url, 2, f8="1")
    assert section_title(client.get(onward.headers["Location"]).get_data(as_text=True)) \
        == "Pekerjaan"


def test_without_the_script_questions_opened_on_a_page_are_shown_before_moving_on(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    answer(client, url, 1, consent="true")
    answer(client, url, 2, f8="1")
    page = client.get(f"{url}?step=3").get_data(as_text=True)
    assert " hidden" in question_tag(page, "f502")  # drawn hidden: no layout shift
    # No script: f504 = 1 opens f502 (waiting months); the same page comes back with it.
    opened = client.post(f"{url}?step=3", data={"step": "3", "action": "next", "f504": "1"})
    assert opened.status_code == 302 and step_of(opened) == 3
    again = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "hidden" not in question_tag(again, "f502")
    assert "pertanyaan lanjutan" in again
    assert 'checked' in re.search(r'name="f504" value="1"[^>]*>', again).group(0)
    # Now seen: the next press moves on, as it does at once with the script.
    onward = client.post(f"{url}?step=3", data={"step": "3", "action": "next", "f504": "1",
                                                "f502": "2"})
    assert step_of(onward) == 4
    scripted = answer(client, url, 3, f504="2")  # opens f506, already shown by the script
    assert step_of(scripted) == 4


def test_messages_name_the_question_by_its_text_in_the_page_language(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    answer(client, url, 1, consent="true")
    answer(client, url, 2, f8="2")
    bad = answer(client, url, 3, f6="2", f7="3")  # looking for work: page 3 is the job search
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert ("“Berapa yang merespons?” tidak boleh lebih dari jawaban "
            "“Berapa perusahaan yang Anda lamar?” (2).") in page
    assert "f6" not in re.search(r'id="err-f7"[^>]*>([^<]*)<', page).group(1)
    english = client.post(f"{url}?step=3&lang=en", data={"step": "3", "action": "next",
                                                          "script": "1", "f6": "x"})
    assert "“How many companies did you apply to?” must be a whole number from 0 to 1,000." \
        in english.get_data(as_text=True)


def test_a_returning_alumnus_resumes_where_a_required_answer_is_missing(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    assert client.get(url).status_code == 200  # no draft yet: the first page
    answer(client, url, 1, consent="true")
    answer(client, url, 2, action="save", f8="3")  # self-employed: f504 is required later
    resumed = client.get(url)
    assert resumed.status_code == 302 and step_of(resumed) == 3
    assert section_title(client.get(resumed.headers["Location"]).get_data(as_text=True)) \
        == "Pekerjaan"


def test_after_sending_the_alumnus_sees_a_summary_with_a_change_link_per_part(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    answer(client, url, 1, consent="true")
    answer(client, url, 2, f8="4")
    answer(client, url, 3, f6="3")
    done = answer(client, url, 5, action="finish", blk_suggestion="Tambah kelas malam")
    assert done.headers["Location"].endswith("/terima-kasih")
    thanks = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f'href="{url}/jawaban"' in thanks and "Lihat jawaban saya" in thanks
    reopened = client.get(url)
    assert reopened.headers["Location"].endswith(f"{url}/jawaban")
    summary = client.get(f"{url}/jawaban").get_data(as_text=True)
    assert "Melanjutkan pendidikan" in summary or "Studi" in summary
    assert "Tambah kelas malam" in summary and "Berapa perusahaan yang Anda lamar?" in summary
    changes = re.findall(rf'href="{re.escape(url)}\?step=(\d+)"[^>]*>Ubah<', summary)
    assert changes == ["1", "2", "3", "4", "5"]
    client.post("/api/v1/waves/ts-2026/close", headers=survey["headers"]["operator"])
    assert client.get(f"{url}/jawaban").status_code == 410  # only while the wave is open


def test_sending_with_a_required_answer_missing_opens_its_page_with_the_message(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    answer(client, url, 1, consent="true")
    answer(client, url, 2, f8="1")
    answer(client, url, 3, action="save", f505="3000000")  # f504 (required) left out
    sent = answer(client, url, 6, action="finish")
    page = sent.get_data(as_text=True)
    assert sent.status_code == 422 and section_title(page) == "Pekerjaan"
    assert "Bagian 3 dari 6" in page
    assert ("“Apakah Anda mendapat pekerjaan ≤ 6 bulan setelah pelatihan selesai (termasuk "
            "sebelum selesai)?” wajib diisi.") in html.unescape(page)
