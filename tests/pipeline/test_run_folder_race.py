"""Two trainings with the same --name in the same second each get a run folder (issue 18, row 14)."""

from pathlib import Path


def test_a_rival_taking_the_name_between_check_and_create(tmp_path, monkeypatch):
    from tinykws import pipeline

    real_mkdir = Path.mkdir
    rivals = []

    def mkdir_after_a_rival(self, *a, **kw):
        # The other training creates the same work folder just after our existence check.
        if self.name.endswith(".partial") and not rivals:
            real_mkdir(self)
            rivals.append(self)
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir_after_a_rival)
    final, work = pipeline.new_run_folder(tmp_path, "same")
    assert rivals and work != rivals[0] and work.is_dir()
    assert final.name == rivals[0].name[1 : -len(".partial")] + "-2"
    assert work.name == f".{final.name}.partial"


def test_a_finished_rival_is_not_reused(tmp_path, monkeypatch):
    from tinykws import pipeline

    real_mkdir = Path.mkdir
    done = []

    def mkdir_after_a_rival_finished(self, *a, **kw):
        # The rival finished and renamed its folder into place between our check and our mkdir.
        if self.name.endswith(".partial") and not done:
            final = self.with_name(self.name[1 : -len(".partial")])
            real_mkdir(final)
            done.append(final)
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir_after_a_rival_finished)
    final, work = pipeline.new_run_folder(tmp_path, "same")
    assert done and final != done[0] and final.name.endswith("-2")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([done[0].name, work.name])
