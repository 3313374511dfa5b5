// Flags shared by several commands, each with its WEIR_* variable (every flag has one).
import { Option } from "commander";

export const jsonOption = () => new Option("--json", "print JSON").env("WEIR_JSON");
export const yesOption = () => new Option("-y, --yes", "do not ask for confirmation").env("WEIR_YES");
export const userOption = (description: string) => new Option("--user <username-or-id>", description).env("WEIR_USER").makeOptionMandatory();
