using System.Collections.Concurrent;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The texts of anonymous VMA names, interned: equal texts get the same <see cref="AnonVmaName.NameId"/>, so
/// comparing identifiers is the kernel's <c>strcmp</c> in <c>anon_vma_name_eq</c>. Process-wide and append-only
/// (names are short and few).
/// </summary>
internal static class AnonNameTable
{
    /// <summary>Identifiers by text.</summary>
    private static readonly ConcurrentDictionary<string, int> s_ids = new(System.StringComparer.Ordinal);

    /// <summary>Texts by identifier.</summary>
    private static readonly ConcurrentDictionary<int, string> s_texts = new();

    /// <summary>The last identifier handed out.</summary>
    private static int s_lastId;

    /// <summary>The identifier of <paramref name="text"/>, interning it on first use.</summary>
    public static int Intern(string text) => s_ids.GetOrAdd(text, static t =>
    {
        int id = Interlocked.Increment(ref s_lastId);
        s_texts[id] = t;
        return id;
    });

    /// <summary>The text of a name, or null for no name.</summary>
    public static unsafe string? TextOf(AnonVmaName* name) => name == null ? null : s_texts[name->NameId];
}
