"""The program that runs first inside each sandbox (passed to the interpreter with `-c`).

It starts before any request arrives ("warm"), tells the server it is ready by writing one byte to the status fd,
then reads its job from the control fd. Everything it needs is in the standard library and it touches no file of
the server, so it works under any uid that can run the interpreter.

One-shot mode (argv: ``oneshot CTRL_FD STATUS_FD``): the control pipe carries one header line
``language cpu_s as_bytes fsize_bytes nproc nofile tool_path`` and then the program until EOF. The bootstrap lowers
its rlimits, closes both control fds and runs the program: python in this interpreter's ``__main__`` module, other
languages by writing the program to the private /tmp and exec'ing the tool, so rlimits carry over. A python program
that ends (normally or with an uncaught exception) leaves through ``quick_exit``: what shutdown does that a program
can see (non-daemon threads joined, atexit callbacks, its globals dropped, streams flushed), then ``os._exit``.

Session mode (argv: ``session CTRL_FD STATUS_FD AS_BYTES FSIZE NPROC NOFILE``): a stateful python interpreter.
Each cell arrives as an 8-byte big-endian length plus UTF-8 code; output goes to the real stdout/stderr and one
status byte (``C`` completed, ``E`` error) follows on the status fd once both streams are flushed. As in IPython,
the value of a final expression is printed.
"""

from __future__ import annotations

__all__ = ["BOOTSTRAP_SOURCE"]

BOOTSTRAP_SOURCE = r"""
def _nemo_sandbox_bootstrap():
    import os, sys, resource

    def set_limits(as_bytes, fsize, nproc, nofile, cpu_s=None):
        limits = [
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_AS, as_bytes),
            (resource.RLIMIT_FSIZE, fsize),
            (resource.RLIMIT_NPROC, nproc),
            (resource.RLIMIT_NOFILE, nofile),
        ]
        if cpu_s is not None:
            limits.append((resource.RLIMIT_CPU, cpu_s))
        for which, value in limits:
            if value > 0:
                resource.setrlimit(which, (value, value))

    def read_all(fd):
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def print_user_traceback(exc):
        import traceback
        # Drop this bootstrap's own frame so the traceback starts in the user's code, as with `python -c`;
        # a syntax error needs no frames at all.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        if isinstance(exc, SyntaxError):
            tb = None
        traceback.print_exception(type(exc), exc, tb)

    def quick_exit(code):
        # What interpreter shutdown does that a program can observe (wait for its non-daemon threads, run its
        # atexit callbacks, drop its globals so their finalizers run, flush stdout/stderr), then _exit: the
        # teardown of every other module is skipped (about 2 ms of CPU per program).
        try:
            shutdown = getattr(sys.modules.get("threading"), "_shutdown", None)
            if shutdown is not None:
                shutdown()
            import atexit
            atexit._run_exitfuncs()
            for first_pass in (True, False):  # as the interpreter clears a module: "_name"s first, then the rest
                for name in list(main_dict):
                    private = name.startswith("_") and not name.startswith("__")
                    if name != "__builtins__" and (private or not first_pass):
                        main_dict[name] = None
        except BaseException as exc:
            print_user_traceback(exc)
            code = code or 1
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except BaseException:
                code = code or 120
        os._exit(code)

    mode, ctrl, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    session_limits = [int(value) for value in sys.argv[4:8]]
    os.write(status, b"R")
    main_dict = sys.modules["__main__"].__dict__
    main_dict.pop("_nemo_sandbox_bootstrap", None)
    sys.argv = ["-c"]

    if mode == "oneshot":
        data = read_all(ctrl)
        os.close(ctrl)
        os.close(status)
        header, _, code = data.partition(b"\n")
        language, cpu_s, as_bytes, fsize, nproc, nofile, tool = header.decode().split(" ", 6)
        set_limits(int(as_bytes), int(fsize), int(nproc), int(nofile), int(cpu_s))
        if language == "python":
            try:
                compiled = compile(code, "<string>", "exec")
            except SyntaxError as exc:
                import traceback
                traceback.print_exception(type(exc), exc, None)
                sys.exit(1)
            exit_code = 0
            try:
                exec(compiled, main_dict)
            except SystemExit:
                raise
            except BaseException as exc:
                print_user_traceback(exc)
                exit_code = 1
            quick_exit(exit_code)
        path = "/tmp/" + {"shell": "main.sh", "pypy3": "main.py", "lean4": "Main.lean"}[language]
        with open(path, "wb") as handle:
            handle.write(code)
        os.execv(tool, [tool, path])

    import ast, struct
    set_limits(*session_limits)

    def read_exact(n):
        buf = b""
        while len(buf) < n:
            chunk = os.read(ctrl, n - len(buf))
            if not chunk:
                sys.exit(0)
            buf += chunk
        return buf

    while True:
        (size,) = struct.unpack(">Q", read_exact(8))
        source = read_exact(size).decode("utf-8", "replace")
        ok = True
        try:
            tree = ast.parse(source, "<cell>", "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, "<cell>", "exec"), main_dict)
            if last is not None:
                value = eval(compile(last, "<cell>", "eval"), main_dict)
                if value is not None:
                    print(repr(value))
        except SystemExit as exc:
            ok = exc.code in (None, 0)
        except BaseException as exc:
            ok = False
            print_user_traceback(exc)
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os.write(status, b"C" if ok else b"E")


_nemo_sandbox_bootstrap()
"""
