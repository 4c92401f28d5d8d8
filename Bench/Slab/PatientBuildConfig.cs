using System;
using BenchmarkDotNet.Configs;

namespace Bench.Slab;

/// <summary>
/// Allows the generated benchmark project ten minutes to build instead of BenchmarkDotNet's two: on the shared
/// two-core machine, parallel builds of other work made the default time out.
/// </summary>
public sealed class PatientBuildConfig : ManualConfig
{
    public PatientBuildConfig() => BuildTimeout = TimeSpan.FromMinutes(10);
}
