"""The ``--out`` folder of a command: a lock, a record of the run's own files, and a final set
published whole. A file the run did not write is never moved, replaced or deleted.

The folder may be anything a user names: a fresh folder, ``.``, a home folder, a folder that
holds the data, a symbolic link to a folder. npscore keeps three entries of its own there:

* ``.npscore.lock``: ``flock`` held while a command runs; a second command on the folder fails at
  once, a killed one's lock is released by the system, and the file is removed on exit;
* ``.npscore-run.json``, the *manifest*: the names of the files the run wrote (written before any
  of them, so that each is known as the run's own) and its stage (``"running"``, or the stage
  :meth:`RunFolder.publish` named: ``"complete"`` for a finished run);
* ``.npscore-publish.json``, the *journal* of a publish under way.

:meth:`RunFolder.publish` writes the new set into a staging folder inside ``out``, then writes the
journal (the commit point), then renames each new file over its name and removes the old set's
files that the new set does not hold, then writes the manifest and removes the journal. A kill
before the journal leaves the old set (the staging folder is removed by the next command); a kill
after it leaves a journal that the next command on the folder (or :func:`settle` from a reader)
completes, so every reader sees the old set or the new one, whole. Folders of the system
(``/``, ``/usr``, ...) are refused before any work.
"""
import json
import os
import shutil
import tempfile

from .. import io
from ..io import pause_point

LOCK = ".npscore.lock"
MANIFEST = ".npscore-run.json"
JOURNAL = ".npscore-publish.json"
STAGING = ".npscore-staging-"
#: folders a run may never write into (nor anything below the first group)
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                "/sys", "/usr")
SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/run", "/srv", "/var")


def refuse_system(folder, name="--out"):
    """Raise when ``folder`` (after links) is ``/`` or a folder of the system."""
    real = os.path.realpath(folder)
    if real in SYSTEM_FOLDERS or any(real == t or real.startswith(t + "/") for t in SYSTEM_TREES):
        shown = folder if real == folder else f"{folder} (that is, {real})"
        raise ValueError(f"{name} {shown} is a folder of the system; npscore writes a run's files into the "
                         f"folder it is given: name a folder of your own (an empty OUT, say)")


def read_manifest(folder):
    """The manifest of ``folder`` (``{"files": [...], "stage": ...}``) or None where it has none."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
        files, stage = list(record["files"]), str(record["stage"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: npscore's record of the run in this folder is damaged ({exc}); "
                         "move the folder's files you want to keep and choose another --out") from None
    return {**record, "files": files, "stage": stage}


def _write_manifest(folder, files, stage, command):
    io.atomic_write_json(os.path.join(folder, MANIFEST), {"files": sorted(set(files)), "stage": stage,
                                                          "command": command})


def _roll_forward(folder):
    """Complete the publish the journal of ``folder`` records (idempotent); True if there was one."""
    path = os.path.join(folder, JOURNAL)
    if not os.path.exists(path):
        return False
    with open(path) as f:
        journal = json.load(f)
    staging = os.path.join(folder, journal["staging"])
    for name in journal["files"]:
        if os.path.exists(os.path.join(staging, name)):
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
            pause_point("publish-moving")
    for name in set(journal["old"]) - set(journal["files"]):
        if os.path.lexists(os.path.join(folder, name)):
            os.unlink(os.path.join(folder, name))
    _write_manifest(folder, journal["files"], journal["stage"], journal["command"])
    shutil.rmtree(staging, ignore_errors=True)
    os.unlink(path)
    return True


def settle(folder):
    """Complete a publish a killed command left in ``folder`` (for a reader of a run's files), under
    the folder's lock; a folder another command is writing, or one not writable, is left as it is."""
    if not os.path.exists(os.path.join(folder, JOURNAL)):
        return
    try:
        with RunFolder(folder, (), command="settle", resume=True):
            pass
    except (ValueError, OSError):
        pass


class RunFolder:
    """``with RunFolder(out, run_files, resume, force, command=...) as folder:`` one command's
    ``out`` (see the module's docstring).

    Parameters
    ----------
    out : str
        The folder; created if missing (and removed again if the command publishes nothing).
    run_files : sequence of str
        The names the command will write. One that exists and is not in the manifest is a file
        npscore did not write: the command is refused before any work, whatever ``force`` says.
    resume, force : bool
        A folder whose manifest holds a run is refused unless one is given: ``resume`` continues
        it, ``force`` replaces it (its files stay until the new set is published).
    command : str
        Recorded in the manifest and named in messages.
    """

    def __init__(self, out, run_files, resume=False, force=False, name="--out", command="npscore"):
        self.out, self.run_files, self.name, self.command = out, tuple(run_files), name, command
        self.resume, self.force = resume, force
        self._lock, self._created, self.recovered, self.previous = None, False, False, None

    # ------------------------------------------------------------ entering and leaving
    def __enter__(self):
        refuse_system(self.out, self.name)
        self._created = not os.path.exists(self.out)
        io.writable_folder(self.out, self.name)
        self._acquire()
        try:
            self.recovered = _roll_forward(self.out)
            io.clean_stale(self.out)
            for n in os.listdir(self.out):
                if n.startswith(STAGING):
                    shutil.rmtree(os.path.join(self.out, n), ignore_errors=True)
            self.previous = read_manifest(self.out)
            self._check_held()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _acquire(self):
        import fcntl
        path = os.path.join(self.out, LOCK)
        while True:
            handle = open(path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise ValueError(f"{self.name} {self.out}: another npscore command is writing to this folder (it "
                                 f"holds {path}); wait for it to end or choose another {self.name}") from None
            try:                                            # the file a leaving holder removed is no lock
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    self._lock = handle
                    return
            except FileNotFoundError:
                pass
            handle.close()

    def _check_held(self):
        own = set(self.previous["files"]) if self.previous else set()
        foreign = [f for f in self.run_files if f not in own and os.path.lexists(self.path(f))]
        if foreign:
            raise ValueError(f"{self.name} {self.out} holds {', '.join(foreign)}, which no npscore run of this "
                             f"folder wrote (a file of yours, or of an npscore from before its runs were "
                             f"recorded); npscore never replaces it: move it, or choose another {self.name}")
        held = [f for f in self.run_files if f in own and os.path.lexists(self.path(f))]
        if held and not (self.resume or self.force):
            stage, command = self.previous["stage"], self.previous.get("command", "npscore")
            files = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
            what = {"complete": "a finished run", "trained": "a trained model, not yet sampled,"}.get(
                stage, "an unfinished run")
            also = (f", or draw its samples with npscore sample --checkpoint {self.path('checkpoint.npz')}"
                    if stage == "trained" else "")
            raise ValueError(f"{self.name} {self.out} holds {what} of {command} ({files}): pass --resume to "
                             f"continue it, --force to replace it (its files stay until the new ones are "
                             f"written){also}, or choose another {self.name}")

    def __exit__(self, *exc):
        if self._lock is None:
            return False
        try:
            os.unlink(self.path(LOCK))                      # removed while held: see _acquire
        except OSError:
            pass
        self._lock.close()
        self._lock = None
        manifest = read_manifest(self.out)
        if manifest is not None and not any(os.path.lexists(self.path(f)) for f in manifest["files"]):
            os.unlink(self.path(MANIFEST))                  # a run that wrote nothing leaves no record
        if self._created:
            try:
                os.rmdir(self.out)                          # only if nothing at all was left
            except OSError:
                pass
        return False

    # ------------------------------------------------------------ writing
    def path(self, name):
        return os.path.join(self.out, name)

    def claim(self, *names):
        """Record ``names`` as the run's own before it writes them (a checkpoint while training)."""
        own = set(self.previous["files"]) if self.previous else set()
        stage = self.previous["stage"] if self.previous else "running"
        _write_manifest(self.out, own | set(names), stage, self.command)
        self.previous = read_manifest(self.out)

    def publish(self, write, stage="complete", keep=()):
        """``write(folder)`` writes the new set into a staging folder; it then replaces the run's
        old set in ``out`` (the old files named in ``keep``, or all with ``keep=True``, stay where
        the new set lacks them). Returns the names published."""
        staging = tempfile.mkdtemp(prefix=STAGING, dir=self.out)
        try:
            write(staging)
            names = sorted(os.listdir(staging))
            own = set(self.previous["files"]) if self.previous else set()
            foreign = [n for n in names if n not in own and os.path.lexists(self.path(n))]
            if foreign:
                raise ValueError(f"{self.name} {self.out} holds {', '.join(foreign)}, which npscore did not "
                                 f"write; npscore never replaces it: move it and run the command again")
            keep = own if keep is True else keep
            kept = [n for n in keep if n in own and n not in names and os.path.lexists(self.path(n))]
            pause_point("publish-staged")
            io.atomic_write_json(self.path(JOURNAL), {"staging": os.path.basename(staging), "files": names + kept,
                                                      "old": sorted(own), "stage": stage, "command": self.command})
            pause_point("publish-committed")
            _roll_forward(self.out)
            self.previous = read_manifest(self.out)
            return names
        finally:
            if not os.path.exists(self.path(JOURNAL)):
                shutil.rmtree(staging, ignore_errors=True)
