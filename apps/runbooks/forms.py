from __future__ import annotations

from django import forms

from apps.runbooks.models import Runbook, RunbookStep


class RunbookForm(forms.ModelForm[Runbook]):
    class Meta:
        model = Runbook
        fields = ["title", "summary", "first_contact_role"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 2})}


class StepForm(forms.ModelForm[RunbookStep]):
    class Meta:
        model = RunbookStep
        fields = ["position", "title", "guidance", "action"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 4}), "position": forms.NumberInput(attrs={"min": 1})}

    # Numbers only order the steps: `runbook_save` renumbers them, so two steps swapping or sharing
    # a number is not an error.
    def validate_unique(self) -> None:
        return

    def validate_constraints(self) -> None:
        return


class BaseStepFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    def validate_unique(self) -> None:
        return


StepFormSet = forms.inlineformset_factory(
    Runbook,
    RunbookStep,
    form=StepForm,
    formset=BaseStepFormSet,
    extra=1,
    can_delete=True,
    max_num=50,
    validate_max=True,
)
