// Build script: dotnet tool restore && dotnet cake [--target=Clean|Build|Test|Bench|Pack|Default]
var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var solution = "./VmaEngine.sln";

Task("Clean")
    .Does(() =>
{
    DotNetClean(solution, new DotNetCleanSettings { Configuration = configuration });
    CleanDirectories("./artifacts");
});

Task("Build")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest(solution, new DotNetTestSettings { Configuration = configuration, NoBuild = true });
});

Task("Bench")
    .Does(() =>
{
    DotNetRun("./Bench/Bench.csproj", new DotNetRunSettings { Configuration = "Release" });
});

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    // The packages VmaEngine.Native, VmaEngine.Slab and VmaEngine.Vma with their symbols, where samples/nuget.config
    // finds them.
    DotNetPack(solution, new DotNetPackSettings { Configuration = configuration, NoBuild = true, OutputDirectory = "./artifacts/packages" });
});

Task("Default")
    .IsDependentOn("Test");

RunTarget(target);
