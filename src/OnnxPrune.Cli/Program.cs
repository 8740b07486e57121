using System.CommandLine;
using OnnxPrune.Cli;
using OnnxPrune.Cli.Commands;

// The `onnxprune` tool: each verb lives in Commands/ and only binds options and calls the library.
var root = new RootCommand("onnxprune: structured pruning of ONNX models, directly on the ONNX graph.");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(AnalyzeCommand.Create());
root.Subcommands.Add(PruneCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(FinetuneCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(PruneMultitaskCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(PipelineCommand.Create());
root.Subcommands.Add(LibraryCommand.Create());
root.Subcommands.Add(AdaptCommand.Create());
VersionAction.Install(root);
return ExitCodes.Invoke(root, args);
