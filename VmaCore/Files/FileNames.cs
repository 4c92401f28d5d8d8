using System.Collections.Concurrent;
using System.Threading;

namespace VmaEngine.Vma.Files;

/// <summary>
/// The managed side of <see cref="VmFile"/>: file identities and their names (what <c>/proc/pid/maps</c> prints as
/// the path). A name is registered when the file is created and forgotten when its last reference goes.
/// </summary>
internal static class FileNames
{
    /// <summary>The name of a shared anonymous object, as the kernel prints it.</summary>
    public const string SharedAnonymousPath = "/dev/zero (deleted)";

    /// <summary>The names of live named files, by <see cref="VmFile.Id"/>.</summary>
    private static readonly ConcurrentDictionary<int, string> s_names = new();

    /// <summary>The last identity handed out.</summary>
    private static int s_lastId;

    /// <summary>A new file identity, unique in the process.</summary>
    public static int NextId() => Interlocked.Increment(ref s_lastId);

    /// <summary>Records the name of a named file.</summary>
    public static void Register(int id, string name) => s_names[id] = name;

    /// <summary>Forgets the name of a file whose last reference was dropped.</summary>
    public static void Forget(int id) => s_names.TryRemove(id, out _);

    /// <summary>The path <c>/proc/PID/maps</c> shows for the file of a MAP_HUGETLB anonymous mapping.</summary>
    public const string AnonHugePage = "/anon_hugepage (deleted)";

    /// <summary>The name of a file (<see cref="AnonHugePage"/> for a MAP_HUGETLB one), or null for a shared anonymous object.</summary>
    public static unsafe string? NameOf(VmFile* file) => file->Kind switch
    {
        VmFileKind.HugeTlb => AnonHugePage,
        VmFileKind.File => s_names.TryGetValue(file->Id, out string? name) ? name : null,
        _ => null,
    };
}
