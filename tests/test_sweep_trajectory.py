"""A sweep's iterative pruning as trajectories: the rule that makes a grid one, a trajectory's
points equal to the lone runs with the same settings (real training, pruning, export and golden
runs, in this process), and a trajectory cut short going on from its saved round."""
import dataclasses
from pathlib import Path

import pytest

from neurodeploy.recipe import load_recipe
from neurodeploy.sweep.point import point_recipe, run_point, train_seed
from neurodeploy.sweep.run import points
from neurodeploy.sweep.trajectory import grid_rounds, run_trajectory, trajectories
from neurodeploy.train.checkpoint import load_checkpoint

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def test_a_grid_is_one_trajectory_when_every_sparsity_is_a_round_of_the_schedule_to_the_top():
    assert grid_rounds([0.5, 0.75, 0.875], 3) == {0.5: 1, 0.75: 2, 0.875: 3}  # p = 0.5 per round
    # the 5-round schedule at p = 0.2: 0.2, 0.36, 0.488, 0.5904, 0.67232
    assert grid_rounds([0.67232, 0.36, 0.5904], 5) == {0.36: 2, 0.5904: 4, 0.67232: 5}
    assert grid_rounds([0.9], 4) == {0.9: 4}
    assert grid_rounds([0.5, 0.8, 0.9], 3) is None  # 0.5 and 0.8 fall between rounds (0.536, 0.785)
    assert grid_rounds([0.5, 0.75], 1) is None  # one round: nothing to share
    assert grid_rounds([0.3, 0.5], 2) is None  # 0.3 comes before round 1 (0.293 is round 1 of 2 to 0.5)


def _recipe(criterion: str):
    recipe = load_recipe(TINY)
    prune = dataclasses.replace(recipe.prune, rounds=3, rewind_epoch=1, criterion=criterion)
    return dataclasses.replace(recipe, prune=prune)


@pytest.mark.parametrize("criterion", ["random", "sf"])
def test_a_trajectorys_points_are_the_lone_runs_with_their_rounds_and_it_resumes_from_its_round(
        tmp_path, capfd, criterion):
    """random draws from the criterion's generator every round and sf measures the network,
    so both carry each round's state into the next; equal rows and byte-equal networks say
    the trajectory's round k is the lone run of k rounds."""
    recipe = _recipe(criterion)
    dense = tmp_path / "seed1.pt"
    train_seed(recipe, 1, dense)
    todo = points([criterion], [0.5, 0.75, 0.875], [1], ["synops"], "synops", grid_rounds([0.5, 0.75, 0.875], 3))
    (path,) = trajectories(todo)
    low, middle, top = path.points
    assert [p.rounds for p in path.points] == [1, 2, 3] and path.name == f"{criterion}-s1"
    assert point_recipe(recipe, low).prune.rounds == 1 and point_recipe(recipe, top).prune.rounds == 3
    state = tmp_path / "state.pt"

    # the trajectory, cut short after round 2's point (as a kill would): round 1 was saved
    (tmp_path / "a").mkdir()
    run = run_trajectory(recipe, path, {p: tmp_path / "a" / f"{p.name}.net" for p in (low, middle, top)}, dense,
                         state, "d1")
    rows = {point: row for point, row in (next(run), next(run))}
    run.close()
    assert list(rows) == [low, middle]
    assert load_checkpoint(state).extra["round"] == 1  # round 2's state is saved only after its point is written
    # resumed for the top point: rounds 2 and 3 run, round 1 does not; the state goes at the end
    capfd.readouterr()
    ((point, rows[top]),) = list(run_trajectory(recipe, path, {top: tmp_path / "a" / f"{top.name}.net"}, dense,
                                                state, "d1"))
    bars = capfd.readouterr().err
    assert "prune round 2/3" in bars and "prune round 3/3" in bars and "prune round 1/3" not in bars
    assert point == top and not state.exists()

    # each point alone, with its own rounds, as `neurodeploy run` would prune it
    (tmp_path / "b").mkdir()
    for point in path.points:
        alone = run_point(recipe, point, dense, tmp_path / "b" / f"{point.name}.net")
        assert alone == rows[point], point.name
        assert (tmp_path / "b" / f"{point.name}.net").read_bytes() == \
            (tmp_path / "a" / f"{point.name}.net").read_bytes(), point.name
    assert rows[low]["sparsity_reached"] < rows[middle]["sparsity_reached"] < rows[top]["sparsity_reached"]
    assert rows[top]["sparsity_reached"] == pytest.approx(0.875, abs=0.01)


def test_a_saved_round_with_other_settings_is_not_resumed(tmp_path, capfd):
    recipe = _recipe("magnitude")
    dense = tmp_path / "seed1.pt"
    train_seed(recipe, 1, dense)
    (path,) = trajectories(points(["magnitude"], [0.75, 0.875], [1], ["synops"], "synops",
                                  grid_rounds([0.75, 0.875], 3)))
    low, top = path.points
    state = tmp_path / "state.pt"
    run = run_trajectory(recipe, path, {low: tmp_path / "low.net", top: tmp_path / "top.net"}, dense, state, "d1")
    next(run)  # round 2's point: round 1 saved
    run.close()
    assert load_checkpoint(state).extra["round"] == 1
    capfd.readouterr()
    list(run_trajectory(recipe, path, {top: tmp_path / "top.net"}, dense, state, "d2"))  # other settings' digest
    assert "prune round 1/3" in capfd.readouterr().err
    state.write_bytes(b"not a checkpoint")  # a damaged state: started over, not an error
    list(run_trajectory(recipe, path, {top: tmp_path / "top2.net"}, dense, state, "d2"))
    assert "prune round 1/3" in capfd.readouterr().err
    assert (tmp_path / "top2.net").exists() and not state.exists()
