using System;
using System.Collections.Generic;
using System.IO;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// The engine options matching the machine whose <c>oracle -E</c> output is a corpus folder's <c>env.txt</c>: the
/// oracle-host profile (Linux 6.18) with the zero page and anon names as that file says.
/// </summary>
/// <remarks>
/// A minimal reader for the folders whose env.txt says Linux 6.18; a general one (deriving every option, refusing
/// other kernels) belongs to <c>Replay --env</c>.
/// </remarks>
internal static class TraceEnvironment
{
    /// <summary>The options for the corpus folder <paramref name="folder"/> (relative to <see cref="TraceCorpus.Root"/>).</summary>
    /// <exception cref="InvalidDataException">env.txt is missing a fact or names another kernel than 6.18.</exception>
    public static AddressSpaceOptions OptionsFor(string folder)
    {
        string path = Path.Combine(TraceCorpus.Root, folder, "env.txt");
        var facts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadAllLines(path))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                facts[line[..space]] = line[(space + 1)..];
            }
        }

        if (!facts.TryGetValue("kernel", out string? kernel) || !kernel.StartsWith("6.18.", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: only a Linux 6.18 machine is known, not '{kernel}'");
        }

        AddressSpaceOptions host = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
        return new AddressSpaceOptions
        {
            AnonVmaNames = Fact(facts, "anon_vma_name", path),
            ZeroPage = Fact(facts, "zero_page", path),
            MaxMapCount = int.Parse(facts["max_map_count"], System.Globalization.CultureInfo.InvariantCulture),
            MremapMultipleVmas = host.MremapMultipleVmas,
            AllowMergeOfFaultedWithUnfaulted = host.AllowMergeOfFaultedWithUnfaulted,
            SoftDirty = host.SoftDirty,
            MemoryFailure = host.MemoryFailure,
            MaybeGuardFlag = host.MaybeGuardFlag,
        };
    }

    private static bool Fact(Dictionary<string, string> facts, string key, string path) => facts.TryGetValue(key, out string? value)
        ? value == "yes"
        : throw new InvalidDataException($"{path}: no '{key}' line");
}
