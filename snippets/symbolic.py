"""符号式编程: build the whole program as text first, then compile it, then run it."""

# --8<-- [start:symbolic]
def add_():
    return '''
def add(a, b):
    return a + b
'''


def fancy_func_():
    return '''
def fancy_func(a, b, c, d):
    e = add(a, b)
    f = add(c, d)
    g = add(e, f)
    return g
'''


def evoke_():
    return add_() + fancy_func_() + 'print(fancy_func(1, 2, 3, 4))'


prog = evoke_()
print(prog)
y = compile(prog, '', 'exec')
exec(y, {})  # 在一个全新的命名空间里运行：这段程序自成一体，只依赖它自己的文本
# --8<-- [end:symbolic]

# --8<-- [start:constant_folding]
import dis

# CPython 自己的编译器看到了整个表达式，于是把常量提前算好（常量折叠）：
# 字节码直接加载 10，运行时不再做任何加法。
dis.dis(compile('print((1 + 2) + (3 + 4))', '', 'exec'))
# --8<-- [end:constant_folding]
