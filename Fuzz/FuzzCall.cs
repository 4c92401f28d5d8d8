using System.Globalization;

namespace Fuzz;

/// <summary>
/// One system call with its raw 64-bit arguments, in the order the syscall takes them: mmap (address, length, prot,
/// flags, file offset), munmap/mlock/munlock/touch (address, length), mprotect/madvise (address, length, prot or
/// advice), mremap (old address, old length, new length, flags, new address), brk (value), name (address, length,
/// which name: 0 none, 1 "a", 2 "b"), fault (address, access: 0 read, 1 write, 2 execute).
/// </summary>
internal readonly record struct FuzzCall(CallKind Kind, ulong A0, ulong A1 = 0, ulong A2 = 0, ulong A3 = 0, ulong A4 = 0)
{
    /// <summary>The keyword of the kernel helper's input line.</summary>
    public string Keyword => Kind switch
    {
        CallKind.Mmap or CallKind.MmapFile => "mmap",
        CallKind.SetAnonName => "name",
        _ => Kind.ToString().ToLowerInvariant(),
    };

    /// <summary>The kernel helper's input line (arguments in hex; mmap takes a use-file flag before the offset).</summary>
    public string HelperLine() => Kind switch
    {
        CallKind.Mmap => Line(A0, A1, A2, A3, 0, 0),
        CallKind.MmapFile => Line(A0, A1, A2, A3, 1, A4),
        _ => Line(A0, A1, A2, A3, A4),
    };

    /// <summary>A readable form for failure messages: the C call with hex arguments.</summary>
    public override string ToString() => Kind switch
    {
        CallKind.Mmap => $"mmap({A0:x}, {A1:x}, prot {A2:x}, flags {A3:x}, -1, 0)",
        CallKind.MmapFile => $"mmap({A0:x}, {A1:x}, prot {A2:x}, flags {A3:x}, f, {A4:x})",
        CallKind.Mremap => $"mremap({A0:x}, {A1:x}, {A2:x}, flags {A3:x}, {A4:x})",
        CallKind.Brk => $"brk({A0:x})",
        CallKind.Fault => $"fault({A0:x}, {(A1 == 0 ? "read" : A1 == 1 ? "write" : "execute")})",
        CallKind.Mprotect or CallKind.Madvise or CallKind.SetAnonName => $"{Keyword}({A0:x}, {A1:x}, {A2:x})",
        _ => $"{Keyword}({A0:x}, {A1:x})",
    };

    private string Line(params ulong[] arguments) =>
        Keyword + " " + string.Join(' ', System.Array.ConvertAll(arguments, a => a.ToString("x", CultureInfo.InvariantCulture)));
}
