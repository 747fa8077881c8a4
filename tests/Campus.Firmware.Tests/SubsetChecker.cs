using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Campus.Firmware.Tests;

/// <summary>One use of a language or library feature the nanoFramework subset does not have.</summary>
public sealed record SubsetViolation(string File, int Line, string Rule, string Detail)
{
    public override string ToString() => $"{File}:{Line}: {Rule}: {Detail}";
}

/// <summary>
/// Checks C# sources against the firmware subset: parses them with Roslyn, binds them against the
/// runtime's assemblies and walks every node. Rules: generic-type, generic-declaration,
/// generic-method, nullable-value-type, tuple, linq, async, span, record, dynamic, json, using
/// (namespace outside the allow-list), namespace (a type from outside the allow-list used by its
/// full name), io (System.IO beyond streams).
/// </summary>
public static class SubsetChecker
{
    public static readonly string[] AllowedNamespaces =
    {
        "System", "System.Collections", "System.Threading", "System.Text", "System.Diagnostics", "System.IO",
    };

    /// <summary>The System.IO types firmware may use: streams and their exceptions.</summary>
    public static readonly string[] AllowedIoTypes =
    {
        "Stream", "MemoryStream", "SeekOrigin", "IOException", "EndOfStreamException",
    };

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    public static IReadOnlyList<SubsetViolation> Check(IEnumerable<(string Path, string Source)> files)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(f.Source, parse, f.Path)).ToList();
        var compilation = CSharpCompilation.Create(
            "FirmwareSubsetCheck",
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var violations = new List<SubsetViolation>();
        foreach (var tree in trees)
        {
            var walker = new Walker(compilation.GetSemanticModel(tree), tree.FilePath, violations);
            walker.Visit(tree.GetRoot());
        }

        return violations.OrderBy(v => v.File, StringComparer.Ordinal).ThenBy(v => v.Line).ToList();
    }

    public static bool IsAllowedNamespace(string ns) =>
        AllowedNamespaces.Contains(ns) || ns == "Campus.Firmware" || ns.StartsWith("Campus.Firmware.", StringComparison.Ordinal);

    private static MetadataReference[] LoadReferences()
    {
        var tpa = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? string.Empty;
        return tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
    }

    private sealed class Walker(SemanticModel model, string file, List<SubsetViolation> violations) : CSharpSyntaxWalker
    {
        private readonly HashSet<(int, string)> _reported = new();

        public override void VisitUsingDirective(UsingDirectiveSyntax node)
        {
            string target = node.NamespaceOrType.ToString();
            if (node.StaticKeyword.IsKind(SyntaxKind.None) && node.Alias is null)
            {
                if (target.StartsWith("System.Text.Json", StringComparison.Ordinal))
                {
                    Report(node, "json", $"using {target}");
                }
                else if (target == "System.Linq" || target.StartsWith("System.Linq.", StringComparison.Ordinal))
                {
                    Report(node, "linq", $"using {target}");
                }
                else if (target.StartsWith("System.Threading.Tasks", StringComparison.Ordinal))
                {
                    Report(node, "async", $"using {target}");
                }
                else if (!IsAllowedNamespace(target))
                {
                    Report(node, "using", $"namespace {target} is not in the firmware allow-list");
                }
            }
            else if (!IsAllowedNamespace(NamespaceOf(target, node)))
            {
                Report(node, "using", $"{node.ToString().Trim()} reaches outside the firmware allow-list");
            }

            if (node.GlobalKeyword.IsKind(SyntaxKind.GlobalKeyword))
            {
                Report(node, "using", "global using directives are not part of the subset");
            }

            // Do not descend: names in a using directive are checked above, not as type uses.
        }

        public override void VisitGenericName(GenericNameSyntax node)
        {
            string name = node.Identifier.Text;
            if (name is "Span" or "ReadOnlySpan" or "Memory" or "ReadOnlyMemory")
            {
                Report(node, "span", $"{node}");
            }
            else
            {
                Report(node, "generic-type", $"{node}");
            }

            base.VisitGenericName(node);
        }

        public override void VisitTypeParameterList(TypeParameterListSyntax node)
        {
            Report(node, "generic-declaration", $"type parameters {node}");
            base.VisitTypeParameterList(node);
        }

        public override void VisitTypeParameterConstraintClause(TypeParameterConstraintClauseSyntax node)
        {
            Report(node, "generic-declaration", $"constraint {node}");
            base.VisitTypeParameterConstraintClause(node);
        }

        public override void VisitNullableType(NullableTypeSyntax node)
        {
            var type = model.GetTypeInfo(node).Type;
            if (type is null || type.IsValueType || type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
            {
                Report(node, "nullable-value-type", $"{node} is Nullable<T>");
            }

            base.VisitNullableType(node);
        }

        public override void VisitTupleType(TupleTypeSyntax node)
        {
            Report(node, "tuple", $"{node}");
            base.VisitTupleType(node);
        }

        public override void VisitTupleExpression(TupleExpressionSyntax node)
        {
            Report(node, "tuple", $"{node}");
            base.VisitTupleExpression(node);
        }

        public override void VisitParenthesizedVariableDesignation(ParenthesizedVariableDesignationSyntax node)
        {
            Report(node, "tuple", $"deconstruction {node}");
            base.VisitParenthesizedVariableDesignation(node);
        }

        public override void VisitQueryExpression(QueryExpressionSyntax node)
        {
            Report(node, "linq", "query expression");
            base.VisitQueryExpression(node);
        }

        public override void VisitAwaitExpression(AwaitExpressionSyntax node)
        {
            Report(node, "async", "await");
            base.VisitAwaitExpression(node);
        }

        public override void VisitMethodDeclaration(MethodDeclarationSyntax node)
        {
            CheckAsync(node.Modifiers, node);
            base.VisitMethodDeclaration(node);
        }

        public override void VisitLocalFunctionStatement(LocalFunctionStatementSyntax node)
        {
            CheckAsync(node.Modifiers, node);
            base.VisitLocalFunctionStatement(node);
        }

        public override void VisitParenthesizedLambdaExpression(ParenthesizedLambdaExpressionSyntax node)
        {
            CheckAsync(node.Modifiers, node);
            base.VisitParenthesizedLambdaExpression(node);
        }

        public override void VisitSimpleLambdaExpression(SimpleLambdaExpressionSyntax node)
        {
            CheckAsync(node.Modifiers, node);
            base.VisitSimpleLambdaExpression(node);
        }

        public override void VisitAnonymousMethodExpression(AnonymousMethodExpressionSyntax node)
        {
            CheckAsync(node.Modifiers, node);
            base.VisitAnonymousMethodExpression(node);
        }

        public override void VisitStackAllocArrayCreationExpression(StackAllocArrayCreationExpressionSyntax node)
        {
            Report(node, "span", "stackalloc");
            base.VisitStackAllocArrayCreationExpression(node);
        }

        public override void VisitImplicitStackAllocArrayCreationExpression(ImplicitStackAllocArrayCreationExpressionSyntax node)
        {
            Report(node, "span", "stackalloc");
            base.VisitImplicitStackAllocArrayCreationExpression(node);
        }

        public override void VisitStructDeclaration(StructDeclarationSyntax node)
        {
            if (node.Modifiers.Any(SyntaxKind.RefKeyword))
            {
                Report(node, "span", $"ref struct {node.Identifier.Text}");
            }

            base.VisitStructDeclaration(node);
        }

        public override void VisitRecordDeclaration(RecordDeclarationSyntax node)
        {
            Report(node, "record", $"record {node.Identifier.Text}");
            base.VisitRecordDeclaration(node);
        }

        public override void VisitIdentifierName(IdentifierNameSyntax node)
        {
            if (node.IsVar)
            {
                base.VisitIdentifierName(node);
                return;
            }

            var info = model.GetSymbolInfo(node);
            var symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
            if (node.Identifier.Text == "dynamic" && model.GetTypeInfo(node).Type?.TypeKind == TypeKind.Dynamic)
            {
                Report(node, "dynamic", "dynamic");
            }
            else if (symbol is not null)
            {
                CheckSymbol(node, symbol);
            }

            base.VisitIdentifierName(node);
        }

        public override void VisitInvocationExpression(InvocationExpressionSyntax node)
        {
            if (model.GetSymbolInfo(node).Symbol is IMethodSymbol method)
            {
                var reduced = method.ReducedFrom ?? method;
                if (reduced.ContainingType?.ToDisplayString() is "System.Linq.Enumerable" or "System.Linq.Queryable")
                {
                    Report(node, "linq", $"{method.Name}()");
                }
                else if (method.IsGenericMethod && !HasExplicitTypeArguments(node.Expression))
                {
                    Report(node, "generic-method", $"{method.ContainingType?.Name}.{method.Name} infers type arguments");
                }
            }

            base.VisitInvocationExpression(node);
        }

        private static bool HasExplicitTypeArguments(ExpressionSyntax expression) => expression switch
        {
            GenericNameSyntax => true,
            MemberAccessExpressionSyntax { Name: GenericNameSyntax } => true,
            _ => false,
        };

        private void CheckAsync(SyntaxTokenList modifiers, SyntaxNode node)
        {
            if (modifiers.Any(SyntaxKind.AsyncKeyword))
            {
                Report(node, "async", "async modifier");
            }
        }

        private void CheckSymbol(SyntaxNode node, ISymbol symbol)
        {
            INamedTypeSymbol? type = symbol switch
            {
                INamedTypeSymbol t => t,
                IMethodSymbol { MethodKind: MethodKind.Constructor } m => m.ContainingType,
                IMethodSymbol m => m.ContainingType,
                IPropertySymbol p => p.ContainingType,
                IFieldSymbol f => f.ContainingType,
                IEventSymbol e => e.ContainingType,
                _ => null,
            };
            if (type is null || type.TypeKind == TypeKind.Error)
            {
                return;
            }

            if (type.IsGenericType && symbol is not INamedTypeSymbol)
            {
                Report(node, "generic-type", $"member of generic type {type.ToDisplayString()}");
            }

            string ns = type.ContainingNamespace is { IsGlobalNamespace: false } container ? container.ToDisplayString() : string.Empty;
            if (ns.StartsWith("System.Text.Json", StringComparison.Ordinal))
            {
                Report(node, "json", type.ToDisplayString());
            }
            else if (ns.StartsWith("System.Threading.Tasks", StringComparison.Ordinal))
            {
                Report(node, "async", type.ToDisplayString());
            }
            else if (ns.StartsWith("System.Linq", StringComparison.Ordinal))
            {
                Report(node, "linq", type.ToDisplayString());
            }
            else if (ns == "System.IO" && !AllowedIoTypes.Contains(type.Name))
            {
                Report(node, "io", $"{type.ToDisplayString()} (System.IO is allowed for streams only)");
            }
            else if (type.Name is "Span" or "ReadOnlySpan" or "Memory" or "ReadOnlyMemory" && ns == "System")
            {
                Report(node, "span", type.ToDisplayString());
            }
            else if (ns.Length > 0 && !IsAllowedNamespace(ns))
            {
                Report(node, "namespace", $"{type.ToDisplayString()} is in {ns}, outside the firmware allow-list");
            }
        }

        private string NamespaceOf(string target, UsingDirectiveSyntax node)
        {
            var symbol = model.GetSymbolInfo(node.NamespaceOrType).Symbol;
            return symbol switch
            {
                INamespaceSymbol n => n.ToDisplayString(),
                ITypeSymbol t => t.ContainingNamespace?.ToDisplayString() ?? target,
                _ => target,
            };
        }

        private void Report(SyntaxNode node, string rule, string detail)
        {
            int line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
            if (_reported.Add((line, rule + detail)))
            {
                violations.Add(new SubsetViolation(file, line, rule, detail));
            }
        }
    }
}
