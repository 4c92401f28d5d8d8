using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// The options a corpus folder's expected outputs were made under, from the <c>env.txt</c> beside them (the
/// oracle's <c>oracle -E</c> on the machine that ran it): the <c>oracle-host</c> kernel (6.18) with that machine's
/// zero page, anonymous VMA names and <c>max_map_count</c>.
/// </summary>
internal static class CorpusEnvironment
{
    /// <summary>The options for <paramref name="folder"/> (relative to <see cref="TraceCorpus.Root"/>).</summary>
    /// <exception cref="InvalidDataException">env.txt lacks one of the facts read.</exception>
    public static AddressSpaceOptions OptionsFor(string folder)
    {
        string path = Path.Combine(TraceCorpus.Root, folder, "env.txt");
        Dictionary<string, string> facts = File.ReadLines(path)
            .Select(line => line.Split(' ', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1].Trim(), StringComparer.Ordinal);
        string Fact(string key) =>
            facts.TryGetValue(key, out string? value) ? value : throw new InvalidDataException($"{path}: no '{key}' line");

        AddressSpaceOptions host = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
        return new AddressSpaceOptions
        {
            AllowMergeOfFaultedWithUnfaulted = host.AllowMergeOfFaultedWithUnfaulted,
            MremapMultipleVmas = host.MremapMultipleVmas,
            SoftDirty = host.SoftDirty,
            ZeroPage = Fact("zero_page") == "yes",
            AnonVmaNames = Fact("anon_vma_name") == "yes",
            MaxMapCount = int.Parse(Fact("max_map_count"), CultureInfo.InvariantCulture),
        };
    }
}
