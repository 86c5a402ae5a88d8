"""命令式编程: the interpreter runs each statement in turn."""

# --8<-- [start:fancy_func]
def add(a, b):
    return a + b


def fancy_func(a, b, c, d):
    e = add(a, b)
    f = add(c, d)
    g = add(e, f)
    return g


print(fancy_func(1, 2, 3, 4))
# --8<-- [end:fancy_func]
