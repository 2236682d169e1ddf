"""teacher.nbgrader_course, in process: the solution cell turns back into the starter, the check call, settings."""
from __future__ import annotations

import pytest

from teacher import nbgrader_course as nc

FORMED = [p for p in sorted(nc.NOTEBOOKS.glob('[0-9][0-9]_*.ipynb')) if nc.has_form(p)]


@pytest.mark.parametrize('path', FORMED, ids=[p.stem for p in FORMED])
def test_the_solution_cell_clears_to_exactly_the_starter_and_runs_the_solution(path):
    ex = nc.find_exercise(path)
    source = nc.solution_cell_source(ex)
    assert nc.clear_to_starter(source) == ex.starter
    assert ex.solution.rstrip('\n') in source
    compile(source, path.name, 'exec')  # the source version runs: the starter sits in a string


@pytest.mark.parametrize('path', FORMED, ids=[p.stem for p in FORMED])
def test_the_check_call_comes_from_the_solutions_last_line(path):
    ex = nc.find_exercise(path)
    assert ex.check_call.startswith('check_') and ex.check_call in ex.solution.splitlines()[-1]


def test_check_call_of_takes_the_argument_of_print_or_the_expression():
    assert nc.check_call_of('x = 1\nprint(check_url(x))  # noqa') == 'check_url(x)'
    assert nc.check_call_of('check_url(x)\n') == 'check_url(x)'
    with pytest.raises(nc.CourseError):
        nc.check_call_of('x = 1\n')


def test_a_starter_with_triple_quotes_of_both_kinds_is_refused(tmp_path):
    ex = nc.find_exercise(nc.NOTEBOOKS / '00_setup.ipynb')
    ex.starter = ex.starter + "\n'''a'''\n\"\"\"b\"\"\""
    with pytest.raises(nc.CourseError, match='triple quotes'):
        nc.solution_cell_source(ex)


def test_grading_settings_from_course_toml(tmp_path):
    toml = tmp_path / 'course.toml'
    toml.write_text('[grading]\nnotebooks = ["03_producer"]\npartial = 0.25\n[grading.points]\n03_producer = 3\n')
    grading = nc.read_grading(toml)
    assert nc.points_for(grading, '03_producer') == 3 and nc.points_for(grading, '00_setup') == 2
    assert [p.stem for p in nc.chosen_notebooks(grading)] == ['03_producer'] and grading['partial'] == 0.25
    toml.write_text('[grading]\npartial = 1.5\n')
    with pytest.raises(nc.CourseError):
        nc.read_grading(toml)


def test_the_repository_course_toml_grades_every_notebook_with_an_exercise():
    grading = nc.read_grading()
    assert [p.stem for p in nc.chosen_notebooks(grading)] == [p.stem for p in FORMED]


