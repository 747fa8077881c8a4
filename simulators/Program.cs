Console.Error.WriteLine("The simulators are not built yet.");
return 1;
